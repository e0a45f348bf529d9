/**
 * The optimisation loop PEZ and PH2P share: L continuous token embeddings, projected to their
 * nearest vocabulary tokens on every forward; the loss and its gradient are evaluated at the
 * projected prompt and the gradient is applied to the continuous embeddings (straight through
 * the projection, as both references do).
 */
import { CancelledError, EngineError } from '../../errors.js';
import type { Optimiser } from '../optimiser.js';
import { gatherRows, normaliseRows, projectToVocabulary } from './projection.js';
import type { TextTower } from './text-tower.js';

export interface PromptSnapshot {
  /** Iterations done when it was taken. */
  iteration: number;
  /** Projected prompt token ids [L]. */
  ids: Int32Array;
  /** The loss measured at this prompt (at the iteration that projected to it). */
  loss: number;
}

export interface ProjectedPromptOptions {
  tower: Pick<TextTower, 'table' | 'dim' | 'vocabSize' | 'template' | 'bosId' | 'eosId' | 'padId'>;
  /** Prompt tokens L. */
  length: number;
  iterations: number;
  optimiser: Optimiser;
  lr: (iteration: number) => number;
  /** Seeds the random start tokens. */
  seed: number;
  /** Ids the projection may choose (default: the whole table except BOS, EOS and padding). */
  allowed?: Int32Array;
  /** Start from these prompt ids instead of random ones ([L]). */
  initialIds?: Int32Array;
  /** Loss at the full input ids (a projected prompt in its template) and d loss / d input embeddings [tokens, dim]. */
  lossAndGrad(ids: Int32Array, iteration: number): Promise<{ loss: number; grad: Float32Array }>;
  /** Record the projected prompt every this many iterations (default 50) and at the end. */
  snapshotEvery?: number;
  signal?: AbortSignal;
  onProgress?: (e: { iteration: number; total: number; loss: number; bestLoss: number; etaSeconds: number }) => void;
}

export interface ProjectedPromptResult {
  initialIds: Int32Array;
  /** The projected prompt with the lowest measured loss. */
  best: PromptSnapshot;
  /** The projected prompt of the continuous embeddings after the last step. */
  last: Int32Array;
  snapshots: PromptSnapshot[];
  losses: number[];
  iterations: number;
  stopped?: 'cancelled' | 'non-finite';
  message?: string;
}

/** Deterministic uniform integers in [0, n) (mulberry32 over the seed). */
function randomInts(seed: number, count: number, n: number): number[] {
  let a = (seed ^ 0x9e3779b9) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n));
  }
  return out;
}

/** Every id of the table except BOS, EOS and padding (a projected EOS would end the prompt early). */
export function defaultVocabulary(tower: ProjectedPromptOptions['tower']): Int32Array {
  const special = new Set([tower.bosId, tower.eosId, tower.padId]);
  const ids: number[] = [];
  for (let v = 0; v < tower.vocabSize; v++) if (!special.has(v)) ids.push(v);
  return Int32Array.from(ids);
}

/**
 * defaultVocabulary without the tokens whose text cannot stand alone: byte fragments of a
 * multi-byte character (decoded alone they give U+FFFD) and control characters. The references
 * project onto every token; an answer containing those cannot be typed, printed or re-read.
 */
export function printableVocabulary(tower: ProjectedPromptOptions['tower'] & { decode(ids: ArrayLike<number>): string }): Int32Array {
  return defaultVocabulary(tower).filter((id) => {
    const t = tower.decode([id]);
    // eslint-disable-next-line no-control-regex
    return t.length > 0 && !/[\uFFFD\u0000-\u001F\u007F-\u009F]/.test(t);
  });
}

export async function optimiseProjectedPrompt(o: ProjectedPromptOptions): Promise<ProjectedPromptResult> {
  const { dim } = o.tower;
  const allowed = o.allowed ?? defaultVocabulary(o.tower);
  const unit = normaliseRows(o.tower.table, dim);
  const initialIds = o.initialIds ?? Int32Array.from(randomInts(o.seed, o.length, allowed.length), (k) => allowed[k]!);
  const params = gatherRows(o.tower.table, initialIds, dim);
  const every = o.snapshotEvery ?? 50;
  const losses: number[] = [];
  const snapshots: PromptSnapshot[] = [];
  let best: PromptSnapshot | undefined;
  let stopped: ProjectedPromptResult['stopped'];
  let message: string | undefined;
  let current = initialIds;
  const started = performance.now();

  for (let it = 0; it < o.iterations; it++) {
    if (o.signal?.aborted) {
      stopped = 'cancelled';
      break;
    }
    const { ids } = projectToVocabulary(params, unit, dim, allowed);
    current = ids;
    let loss: number;
    let grad: Float32Array;
    try {
      ({ loss, grad } = await o.lossAndGrad(o.tower.template(ids), it));
    } catch (e) {
      if (e instanceof CancelledError) {
        stopped = 'cancelled';
        break;
      }
      throw e;
    }
    if (!Number.isFinite(loss) || grad.some((v) => !Number.isFinite(v))) {
      stopped = 'non-finite';
      message = `the loss became ${Number.isFinite(loss) ? 'finite but its gradient non-finite' : loss} at iteration ${it}; kept the best prompt so far`;
      break;
    }
    losses.push(loss);
    if (!best || loss < best.loss) best = { iteration: it, ids, loss };
    // Positions 1..L of the template are the prompt's.
    o.optimiser.step(params, grad.subarray(dim, (o.length + 1) * dim), o.lr(it));
    const done = it + 1;
    if (done % every === 0 || done === o.iterations) snapshots.push({ iteration: done, ids, loss });
    const elapsed = (performance.now() - started) / 1000;
    o.onProgress?.({
      iteration: done,
      total: o.iterations,
      loss,
      bestLoss: best.loss,
      etaSeconds: (elapsed / done) * (o.iterations - done),
    });
  }
  if (!best) {
    if (stopped === 'non-finite')
      throw new EngineError('NUMERIC', `the loss is not finite at the first iteration (${message ?? ''}); try another seed`);
    throw new CancelledError('cancelled before the first iteration finished');
  }
  if (snapshots.at(-1)?.iteration !== losses.length) snapshots.push({ iteration: losses.length, ids: current, loss: losses.at(-1)! });
  const last = stopped ? current : projectToVocabulary(params, unit, dim, allowed).ids;
  return {
    initialIds,
    best,
    last,
    snapshots,
    losses,
    iterations: losses.length,
    ...(stopped ? { stopped } : {}),
    ...(message ? { message } : {}),
  };
}
