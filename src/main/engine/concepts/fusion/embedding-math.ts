/**
 * Arithmetic on text embeddings ([tokens, D] float32, row-major): weight normalisation, linear and
 * spherical interpolation. Interpolation is position-wise (row k of the result mixes row k of each
 * parent), as compel's `.blend()` and ComfyUI's ConditioningAverage do.
 */
import { EngineError } from '../../errors.js';

/**
 * Weights for `n` parents, normalised to sum to 1. Absent weights are equal. Each weight must be a
 * finite number >= 0 and at least one must be > 0.
 * @throws EngineError('INVALID_ARGUMENT') for a wrong count or bad values
 */
export function normaliseWeights(weights: readonly number[] | undefined, n: number): number[] {
  if (!weights || weights.length === 0) return new Array<number>(n).fill(1 / n);
  if (weights.length !== n)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `give one weight per parent: ${n} parents, ${weights.length} weights (${weights.join(', ')})`,
    );
  for (const w of weights)
    if (!Number.isFinite(w) || w < 0) throw new EngineError('INVALID_ARGUMENT', `weights must be numbers >= 0 (got ${weights.join(', ')})`);
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new EngineError('INVALID_ARGUMENT', 'at least one weight must be above 0');
  return weights.map((w) => w / sum);
}

function checkSameLength(embeddings: readonly Float32Array[]): number {
  const n = embeddings[0]?.length ?? 0;
  for (const e of embeddings)
    if (e.length !== n)
      throw new EngineError(
        'SHAPE_MISMATCH',
        `embeddings of different sizes (${embeddings.map((x) => x.length).join(', ')} values) cannot be mixed`,
      );
  return n;
}

/** Σ wᵢ·eᵢ with the weights normalised (see normaliseWeights). */
export function lerpMany(embeddings: readonly Float32Array[], weights?: readonly number[]): Float32Array {
  const n = checkSameLength(embeddings);
  const w = normaliseWeights(weights, embeddings.length);
  const out = new Float32Array(n);
  embeddings.forEach((e, k) => {
    const wk = w[k]!;
    if (wk === 0) return;
    for (let i = 0; i < n; i++) out[i] = out[i]! + wk * e[i]!;
  });
  return out;
}

/**
 * Spherical interpolation of two D-vectors `a[ao..ao+D)`, `b[bo..bo+D)` at t ∈ [0, 1] into
 * `out[oo..oo+D)`: the direction moves along the great circle between them, the length linearly
 * from |a| to |b|. t = 0 gives a and t = 1 gives b exactly; (anti)parallel or zero rows fall back to
 * linear interpolation.
 */
function slerpRow(a: Float32Array, b: Float32Array, out: Float32Array, off: number, dim: number, t: number): void {
  if (t === 0 || t === 1) {
    out.set((t === 0 ? a : b).subarray(off, off + dim), off);
    return;
  }
  let na = 0;
  let nb = 0;
  let dot = 0;
  for (let d = 0; d < dim; d++) {
    const x = a[off + d]!;
    const y = b[off + d]!;
    na += x * x;
    nb += y * y;
    dot += x * y;
  }
  na = Math.sqrt(na);
  nb = Math.sqrt(nb);
  const cos = na > 0 && nb > 0 ? dot / (na * nb) : 1;
  if (na === 0 || nb === 0 || Math.abs(cos) > 0.9995) {
    for (let d = 0; d < dim; d++) out[off + d] = (1 - t) * a[off + d]! + t * b[off + d]!;
    return;
  }
  const theta = Math.acos(Math.min(1, Math.max(-1, cos)));
  const s = Math.sin(theta);
  const ka = Math.sin((1 - t) * theta) / s / na;
  const kb = Math.sin(t * theta) / s / nb;
  const len = (1 - t) * na + t * nb;
  for (let d = 0; d < dim; d++) out[off + d] = len * (ka * a[off + d]! + kb * b[off + d]!);
}

/** Row-wise slerp of two [tokens, dim] embeddings at t ∈ [0, 1] (t = 0: a, t = 1: b). */
export function slerp(a: Float32Array, b: Float32Array, t: number, dim: number): Float32Array {
  checkSameLength([a, b]);
  if (!(t >= 0 && t <= 1)) throw new EngineError('INVALID_ARGUMENT', `slerp needs t in [0, 1] (got ${t})`);
  if (!Number.isInteger(dim) || dim <= 0 || a.length % dim !== 0)
    throw new EngineError('SHAPE_MISMATCH', `an embedding of ${a.length} values is not made of rows of ${dim}`);
  const out = new Float32Array(a.length);
  for (let off = 0; off < a.length; off += dim) slerpRow(a, b, out, off, dim, t);
  return out;
}

/**
 * Weighted spherical mean of several embeddings, built by successive slerps: the running mean of
 * the first k parents moves toward parent k+1 by w_{k+1} / (w_1 + … + w_{k+1}). For two parents
 * this is slerp(a, b, w_b); a parent with weight 1 (all others 0) is returned exactly.
 */
export function slerpMany(embeddings: readonly Float32Array[], weights: readonly number[] | undefined, dim: number): Float32Array {
  checkSameLength(embeddings);
  const w = normaliseWeights(weights, embeddings.length);
  let acc: Float32Array | undefined;
  let total = 0;
  embeddings.forEach((e, k) => {
    const wk = w[k]!;
    if (wk === 0) return;
    total += wk;
    acc = acc ? slerp(acc, e, wk / total, dim) : Float32Array.from(e);
  });
  return acc!;
}

/** Root mean square of the values (the scale Gaussian mutation noise is measured in). */
export function rms(e: Float32Array): number {
  let s = 0;
  for (let i = 0; i < e.length; i++) s += e[i]! * e[i]!;
  return e.length ? Math.sqrt(s / e.length) : 0;
}
