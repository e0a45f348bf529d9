/**
 * What a job kind is, to the queue that runs it (queue.ts): the request it takes, the work, and
 * what becomes of the work's output (the job result, and what is stored in the library). One
 * module per kind (generate.ts, invert.ts, segment.ts, edit.ts, download-model.ts, import-model.ts),
 * listed in kinds.ts. A new kind (fuse, evolve, eval) is: a request schema and a result schema in
 * src/shared/ipc (requests.ts, jobs.ts: JOB_KINDS), a module here, a row in kinds.ts.
 */
import type { z } from 'zod';
import type { StudioEvent } from '../../../shared/ipc/events.js';
import type { JobKind as JobKindName, JobResult } from '../../../shared/ipc/jobs.js';
import type { RequestOf } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import type { EngineAdapter, EngineProgress } from '../engine-adapter.js';
import type { Library } from '../library.js';
import type { SegmentationCache } from '../segmentations.js';

/** What every job gets from the queue, the same `{ signal, onProgress }` as every engine operation. */
export interface JobRunOptions {
  /** Aborted when the job is cancelled. */
  signal: AbortSignal;
  /** Progress in engine terms; the queue throttles it and sends it as job.progress events. */
  onProgress: (p: EngineProgress) => void;
}

/** The service's parts a job may use. */
export interface JobContext {
  engine: EngineAdapter;
  library: Library;
  /** The settings when the job started (defaults for fields the request leaves out). */
  settings: Settings;
  /** Send an event to every client (e.g. `library.changed` once a result is stored). */
  emit(event: StudioEvent): void;
  /** Full-resolution segmentations behind the attention maps jobs return (for exportSegmentation). */
  segmentations: SegmentationCache;
}

export interface JobKind<T extends JobKindName = JobKindName, Out = unknown> {
  /** The request type that starts this job. */
  readonly type: T;
  /** Its schema (a member of RequestSchema); in-process submissions are checked against it. */
  readonly schema: z.ZodType<RequestOf<T>>;
  /** The work (engine calls). Cancelled, it throws CancelledError, whose `partial` may hold an `Out` (see `keepsPartial`). */
  run(request: RequestOf<T>, opts: JobRunOptions, ctx: JobContext): Promise<Out>;
  /**
   * The job's result for `out`; stores what the kind keeps in the library. `partial`: `out` is the
   * best-so-far of a cancelled run (CancelledError.partial), reported with job.cancelled.
   */
  finish(request: RequestOf<T>, out: Out, ctx: JobContext, partial: boolean): Promise<JobResult>;
  /** True when a cancelled run's CancelledError.partial is an `Out` worth finishing (an inversion's best result). */
  readonly keepsPartial?: boolean;
}

/** Every job kind, by its request type: a missing kind is a type error. */
export type JobKindTable = { [T in JobKindName]: JobKind<T> };
