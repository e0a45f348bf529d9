/**
 * Optimisation in plain JS over Float32Array parameters: AdamW (Loshchilov & Hutter, decoupled
 * weight decay; the arithmetic of torch.optim.AdamW with amsgrad off), gradient clipping by the
 * global L2 norm, learning-rate schedules and an exponential moving average of the weights.
 * Arithmetic is float64 per element, stored as float32.
 */
import { EngineError } from '../errors.js';
import type { ParamSet } from './params.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (torch default 0.01). */
  weightDecay?: number;
  /** Which parameters decay (default: weights of rank >= 2 that are not embeddings; biases and norm scales never). */
  decays?: (name: string, dims: number[]) => boolean;
}

/** Default decay mask: matrices and kernels, not biases, norm scales or embedding tables. */
export function defaultDecays(name: string, dims: number[]): boolean {
  return dims.length >= 2 && !name.endsWith('.bias') && !/embedding/.test(name);
}

/** Serialisable optimiser state: the step count and the moment buffers per parameter. */
export interface AdamWState {
  t: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly decays: (name: string, dims: number[]) => boolean;
  /** Steps taken. */
  t = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  constructor(params: ParamSet, opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.decays = opts.decays ?? defaultDecays;
    for (const p of params.list) {
      this.m.set(p.name, new Float32Array(p.values.length));
      this.v.set(p.name, new Float32Array(p.values.length));
    }
  }

  /**
   * One update of every parameter that has a gradient, in place:
   * p *= 1 - lr wd (decaying params); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
   * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
   * @param lr learning rate of this step
   */
  step(params: ParamSet, grads: Map<string, Float32Array>, lr: number): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const bc1 = 1 - b1 ** this.t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.t);
    const stepSize = lr / bc1;
    for (const p of params.list) {
      const g = grads.get(p.name);
      if (!g) continue;
      const w = p.values;
      if (g.length !== w.length)
        throw new EngineError('INVALID_ARGUMENT', `gradient of '${p.name}' has ${g.length} values, the parameter ${w.length}`);
      const m = this.m.get(p.name)!;
      const v = this.v.get(p.name)!;
      const decay = this.weightDecay > 0 && this.decays(p.name, p.dims) ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
      }
    }
  }

  get state(): AdamWState {
    return { t: this.t, m: this.m, v: this.v };
  }

  /** Restore a saved state (copies into the existing buffers). */
  load(state: AdamWState): void {
    this.t = state.t;
    for (const [name, buf] of this.m) {
      const m = state.m.get(name);
      const v = state.v.get(name);
      if (!m || !v || m.length !== buf.length)
        throw new EngineError('INVALID_ARGUMENT', `optimiser state lacks '${name}' or has another size`);
      buf.set(m);
      this.v.get(name)!.set(v);
    }
  }
}

/**
 * Scale all gradients so their global L2 norm is at most `maxNorm` (in place).
 * @returns the norm before clipping
 */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm)) throw new EngineError('NUMERIC', `gradient norm is ${norm}: the loss diverged (lower the learning rate)`);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * s;
  }
  return norm;
}

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up steps from 0 to `lr`. */
  warmup?: number;
  /** Total steps (the cosine reaches `lr * minFactor` at the end). */
  total: number;
  kind?: 'cosine' | 'constant';
  /** Final fraction of the peak (cosine; default 0.1). */
  minFactor?: number;
}

/** Learning rate of step `step` (0-based): linear warm-up, then constant or cosine decay. */
export function learningRate(step: number, o: ScheduleOptions): number {
  const warm = o.warmup ?? 0;
  if (step < warm) return (o.lr * (step + 1)) / warm;
  if ((o.kind ?? 'cosine') === 'constant') return o.lr;
  const span = Math.max(1, o.total - warm);
  const p = Math.min(1, (step - warm) / span);
  const min = o.minFactor ?? 0.1;
  return o.lr * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/**
 * Exponential moving average of the parameters: ema = d ema + (1 - d) p with
 * d = min(decay, (1 + t) / (10 + t)) (the usual warm-up, so early averages are not dominated by
 * the random initialisation).
 */
export class Ema {
  readonly shadow: ParamSet;
  t = 0;
  constructor(
    params: ParamSet,
    readonly decay: number,
  ) {
    this.shadow = params.clone();
  }

  update(params: ParamSet): void {
    this.t++;
    const d = Math.min(this.decay, (1 + this.t) / (10 + this.t));
    for (const p of params.list) {
      const s = this.shadow.get(p.name).values;
      const w = p.values;
      for (let i = 0; i < w.length; i++) s[i] = d * s[i]! + (1 - d) * w[i]!;
    }
  }
}
