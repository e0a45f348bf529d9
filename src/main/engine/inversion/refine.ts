/**
 * The refinement loop of EDITOR: gradient descent on the text-encoder output c, restricted to
 * the optimised positions, with snapshots of the best embedding every N iterations (the
 * candidates the E2T decoder turns into text).
 */
import { CancelledError, EngineError } from '../errors.js';
import type { LrSchedule } from './lr-schedule.js';
import type { Optimiser } from './optimiser.js';

/** A differentiable objective of the conditioning embedding c ([tokens * dim] float32). */
export interface Objective {
  readonly name: string;
  /** Loss at c and dLoss/dc ([tokens * dim]); `iteration` seeds stochastic objectives. */
  lossAndGrad(c: Float32Array, iteration: number, signal?: AbortSignal): Promise<{ loss: number; grad: Float32Array }>;
}

export interface Snapshot {
  /** Iteration at which the snapshot was taken (0 = the initial embedding). */
  iteration: number;
  /** Lowest loss seen up to then, and the embedding that had it. */
  loss: number;
  embedding: Float32Array;
}

export interface RefineProgress {
  iteration: number;
  total: number;
  loss: number;
  bestLoss: number;
  lr: number;
  etaSeconds: number;
}

export interface RefineOptions {
  iterations: number;
  optimiser: Optimiser;
  lr: LrSchedule;
  /** Per-element mask (1 = optimised) of length tokens*dim. */
  mask: Uint8Array;
  /** Snapshot the best embedding every this many iterations (default 50). */
  snapshotEvery?: number;
  signal?: AbortSignal;
  onProgress?: (e: RefineProgress) => void;
  /** Called after each iteration with the current embedding (for previews). */
  onIteration?: (iteration: number, c: Float32Array) => Promise<void> | void;
}

export interface RefineResult {
  best: Snapshot;
  snapshots: Snapshot[];
  /** Loss per completed iteration. */
  losses: number[];
  iterations: number;
  seconds: number;
  /** Why the loop ended early, if it did. */
  stopped?: 'cancelled' | 'non-finite';
  message?: string;
}

/**
 * Run the loop. Cancellation and a NaN/Inf loss end it early and still return the best
 * embedding so far (a CancelledError is never thrown from here: the caller decides).
 * @param c0 initial embedding [tokens * dim]; not modified
 */
export async function refine(c0: Float32Array, objective: Objective, o: RefineOptions): Promise<RefineResult> {
  if (o.mask.length !== c0.length) throw new EngineError('INVALID_ARGUMENT', 'refinement mask and embedding sizes differ');
  const every = o.snapshotEvery ?? 50;
  const c = Float32Array.from(c0);
  const losses: number[] = [];
  let best: Snapshot = { iteration: 0, loss: Infinity, embedding: Float32Array.from(c0) };
  const snapshots: Snapshot[] = [];
  const started = performance.now();
  let stopped: RefineResult['stopped'];
  let message: string | undefined;

  for (let it = 0; it < o.iterations; it++) {
    if (o.signal?.aborted) {
      stopped = 'cancelled';
      break;
    }
    let loss: number;
    let grad: Float32Array;
    try {
      ({ loss, grad } = await objective.lossAndGrad(c, it, o.signal));
    } catch (e) {
      if (e instanceof CancelledError) {
        stopped = 'cancelled';
        break;
      }
      throw e;
    }
    if (!Number.isFinite(loss) || grad.some((v) => !Number.isFinite(v))) {
      stopped = 'non-finite';
      message = `the ${objective.name} loss became ${Number.isFinite(loss) ? 'finite but its gradient non-finite' : loss} at iteration ${it}; kept the best embedding so far (try a lower learning rate)`;
      break;
    }
    // The loss is measured at c before this step, so it belongs to the current embedding.
    if (loss < best.loss) best = { iteration: it, loss, embedding: Float32Array.from(c) };
    if (it === 0) snapshots.push({ ...best });
    losses.push(loss);
    const lr = o.lr(it);
    o.optimiser.step(c, grad, lr, o.mask);
    const done = it + 1;
    if (done % every === 0) snapshots.push({ iteration: done, loss: best.loss, embedding: Float32Array.from(best.embedding) });
    const elapsed = (performance.now() - started) / 1000;
    o.onProgress?.({
      iteration: done,
      total: o.iterations,
      loss,
      bestLoss: best.loss,
      lr,
      etaSeconds: (elapsed / done) * (o.iterations - done),
    });
    await o.onIteration?.(done, c);
  }
  // A run that ended between snapshot points still offers its best embedding as a candidate.
  if (Number.isFinite(best.loss) && snapshots[snapshots.length - 1]?.loss !== best.loss) {
    snapshots.push({ iteration: losses.length, loss: best.loss, embedding: Float32Array.from(best.embedding) });
  }
  return {
    best,
    snapshots,
    losses,
    iterations: losses.length,
    seconds: (performance.now() - started) / 1000,
    ...(stopped ? { stopped } : {}),
    ...(message ? { message } : {}),
  };
}

/**
 * Mask of the optimised elements: positions 1..length-1 (the caption's tokens incl. EOS; BOS
 * is fixed, as in the reference), optionally every padding position too.
 */
export function positionMask(tokens: number, dim: number, length: number, includePadding: boolean): Uint8Array {
  const mask = new Uint8Array(tokens * dim);
  const last = includePadding ? tokens - 1 : Math.min(length - 1, tokens - 1);
  mask.fill(1, dim, (last + 1) * dim);
  return mask;
}
