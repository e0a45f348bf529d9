/**
 * The run's per-item results: one JSON object per line in `<run>/results.jsonl`, one line per
 * (item, method, seed, ablation value) as each finishes. The file is rewritten whole through
 * safe-write on every append (temp file + rename), so a crash never leaves half a line, and a
 * rerun reads it back and skips what is done. Lines that do not parse (edited by hand) are
 * reported and dropped on the next write.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { safeWriteFile } from '../io/safe-write.js';
import type { MethodName } from '../inversion/methods/types.js';

/** Metric values by key (null: not computable for this record, e.g. an empty answer). */
export type MetricValues = Record<string, number | null>;

export interface EvalRecord {
  /** Unique per unit of work: `item|method|seed=S[|setting=V]`. */
  key: string;
  item: string;
  method: MethodName;
  seed: number;
  /** The ablation value this record belongs to; absent outside an ablation or for a method it does not apply to. */
  setting?: { name: string; value: string };
  /** The dataset's prompt (the reference). */
  reference: string;
  /** Absent when the unit failed before the method answered. */
  prompt?: string;
  initialPrompt?: string;
  metrics?: MetricValues;
  /** Loss curve, every `lossStride`-th iteration (at most ~300 points kept). */
  loss?: number[];
  lossStride?: number;
  iterations?: number;
  /** Wall seconds of the method (inversion only) and of the whole unit (with regeneration and scoring). */
  seconds?: number;
  unitSeconds?: number;
  /** Files under the run folder: the regeneration of the answer and of the initial prompt. */
  regeneration?: string;
  initialRegeneration?: string;
  stopped?: 'cancelled' | 'non-finite';
  /** Why the unit failed (unreadable image, a model that broke): the unit is retried by a rerun. */
  error?: string;
  finishedAt: string;
}

/** A record the next run does not redo: finished, not cancelled, not failed. */
export function isDone(r: EvalRecord): boolean {
  return r.error === undefined && r.stopped !== 'cancelled';
}

export class ResultsLog {
  /** The latest record per key, in first-seen order. */
  private readonly records = new Map<string, EvalRecord>();
  private constructor(readonly file: string) {}

  /** Open (and read) the log; `problems` lists lines that could not be read. */
  static async open(file: string): Promise<{ log: ResultsLog; problems: string[] }> {
    const log = new ResultsLog(file);
    const problems: string[] = [];
    if (existsSync(file)) {
      const text = await readFile(file, 'utf8');
      text.split('\n').forEach((line, i) => {
        if (!line.trim()) return;
        try {
          const r = JSON.parse(line) as EvalRecord;
          if (typeof r.key !== 'string' || typeof r.method !== 'string') throw new Error('no key');
          log.records.delete(r.key);
          log.records.set(r.key, r);
        } catch {
          problems.push(`results.jsonl line ${i + 1} is not a result record; it is dropped`);
        }
      });
    }
    return { log, problems };
  }

  /** All records, the latest per key. */
  all(): EvalRecord[] {
    return [...this.records.values()];
  }

  done(key: string): boolean {
    const r = this.records.get(key);
    return r !== undefined && isDone(r);
  }

  /** Add (or replace) a record and rewrite the file. */
  async append(r: EvalRecord): Promise<void> {
    this.records.delete(r.key);
    this.records.set(r.key, r);
    await safeWriteFile(
      this.file,
      this.all()
        .map((x) => JSON.stringify(x))
        .join('\n') + '\n',
      { mkdir: true, what: 'the results log' },
    );
  }
}
