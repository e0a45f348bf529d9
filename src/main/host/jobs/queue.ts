/**
 * The job queue of the engine process: jobs run one at a time in submission order, each with its
 * own AbortController, reporting throttled progress; what a job does is its kind's (job-kind.ts).
 *
 * Events, per job: job.queued -> job.started -> job.progress* -> job.result | job.failed |
 * job.cancelled (with the kind's partial result when it keeps one). At most MAX_QUEUED_JOBS wait
 * behind the running job; more are refused (QUEUE_FULL). Finished jobs are remembered for
 * listJobs without their requests or previews: an inversion's request holds its image.
 */
import { CancelledError, EngineError } from '../../engine/errors.js';
import type { StudioEvent } from '../../../shared/ipc/events.js';
import type { JobInfo, JobKind as JobKindName, JobProgress, JobResult } from '../../../shared/ipc/jobs.js';
import { MAX_QUEUED_JOBS } from '../../../shared/ipc/limits.js';
import type { RequestOf } from '../../../shared/ipc/requests.js';
import { jobLabel, toErrorInfo } from '../host-common.js';
import type { JobContext, JobKind, JobKindTable } from './job-kind.js';
import { throttledProgress } from './progress.js';

/** Finished jobs listJobs still reports. */
export const KEEP_FINISHED_JOBS = 50;

/** A job request refused because MAX_QUEUED_JOBS are already waiting. */
export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
  constructor(limit: number) {
    super(`${limit} jobs are already waiting; wait for some to finish (or cancel them) before adding more`);
    this.name = 'QueueFullError';
  }
}

export interface JobQueueOptions {
  kinds: JobKindTable;
  /** The context a job runs with, read when it starts. */
  context: () => JobContext;
  emit: (event: StudioEvent) => void;
  /** Minimum milliseconds between two progress events of a job (default 100). */
  progressIntervalMs?: number;
  /** Jobs that may wait behind the running one (default MAX_QUEUED_JOBS). */
  maxQueued?: number;
}

interface Job {
  id: string;
  kind: JobKindName;
  label: string;
  request: RequestOf<JobKindName>;
  controller: AbortController;
  progress?: JobProgress;
}

export class JobQueue {
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  private finished: JobInfo[] = [];
  private counter = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly progressIntervalMs: number;
  private readonly maxQueued: number;

  constructor(private readonly o: JobQueueOptions) {
    this.progressIntervalMs = o.progressIntervalMs ?? 100;
    this.maxQueued = o.maxQueued ?? MAX_QUEUED_JOBS;
  }

  /**
   * Queue a job; `pinId` fixes its id (the host resubmits queued jobs after a crash under the ids
   * the clients know).
   * @throws QueueFullError, or EngineError for a duplicate id or a closed queue
   */
  submit(request: RequestOf<JobKindName>, pinId?: string): { jobId: string } {
    if (this.closed) throw new EngineError('RUNTIME', 'the engine is shutting down');
    if (this.waiting.length >= this.maxQueued) throw new QueueFullError(this.maxQueued);
    const id = pinId ?? `job-${Date.now().toString(36)}-${(++this.counter).toString(36)}`;
    if (this.known(id)) throw new EngineError('INVALID_ARGUMENT', `job '${id}' already exists`);
    const job: Job = { id, kind: request.type, label: jobLabel(request), request, controller: new AbortController() };
    this.waiting.push(job);
    this.o.emit({
      type: 'job.queued',
      jobId: id,
      kind: job.kind,
      label: job.label,
      position: this.waiting.length - 1 + (this.running ? 1 : 0),
    });
    queueMicrotask(() => void this.pump());
    return { jobId: id };
  }

  /** Cancel a waiting job (at once) or the running one (through its signal); false when neither. */
  cancel(jobId: string): boolean {
    const index = this.waiting.findIndex((j) => j.id === jobId);
    if (index >= 0) {
      const [job] = this.waiting.splice(index, 1);
      this.remember(job!, 'cancelled');
      this.o.emit({ type: 'job.cancelled', jobId });
      this.notifyIdle();
      return true;
    }
    if (this.running?.id === jobId && !this.running.controller.signal.aborted) {
      this.running.controller.abort();
      return true;
    }
    return false;
  }

  /** The running job, the waiting ones in order, then the recently finished, newest first. */
  jobs(): JobInfo[] {
    const live = [...(this.running ? [this.running] : []), ...this.waiting].map((j): JobInfo => ({
      jobId: j.id,
      kind: j.kind,
      state: j === this.running ? 'running' : 'queued',
      label: j.label,
      ...(j.progress ? { progress: j.progress } : {}),
    }));
    return [...live, ...this.finished];
  }

  /** Resolves when no job is waiting or running. */
  idle(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuse new jobs, cancel the waiting ones and the running one, and wait for it to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of [...this.waiting]) this.cancel(j.id);
    this.running?.controller.abort();
    await this.idle();
  }

  private known(id: string): boolean {
    return this.running?.id === id || this.waiting.some((j) => j.id === id) || this.finished.some((j) => j.jobId === id);
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const job = this.waiting.shift();
    if (!job) {
      this.notifyIdle();
      return;
    }
    this.running = job;
    this.o.emit({ type: 'job.started', jobId: job.id, kind: job.kind });
    try {
      const result = await this.run(job);
      this.remember(job, 'done');
      this.o.emit({ type: 'job.result', jobId: job.id, result });
    } catch (e) {
      if (e instanceof CancelledError || (job.controller.signal.aborted && isAbortLike(e))) {
        const partial = e instanceof CancelledError ? await this.finishPartial(job, e) : undefined;
        this.remember(job, 'cancelled');
        this.o.emit({ type: 'job.cancelled', jobId: job.id, ...(partial ? { partial } : {}) });
      } else {
        const error = toErrorInfo(e);
        this.remember(job, 'failed', error);
        this.o.emit({ type: 'job.failed', jobId: job.id, code: error.code, message: error.message });
      }
    } finally {
      this.running = undefined;
      void this.pump();
    }
  }

  private async run(job: Job): Promise<JobResult> {
    const kind = this.o.kinds[job.kind] as JobKind;
    const ctx = this.o.context();
    const onProgress = throttledProgress(this.progressIntervalMs, (progress) => {
      job.progress = progress;
      this.o.emit({ type: 'job.progress', jobId: job.id, progress });
    });
    const out = await kind.run(job.request, { signal: job.controller.signal, onProgress }, ctx);
    return kind.finish(job.request, out, ctx, false);
  }

  /** The result a cancelled job still reports, when its kind keeps one; undefined if saving it fails. */
  private async finishPartial(job: Job, e: CancelledError): Promise<JobResult | undefined> {
    const kind = this.o.kinds[job.kind] as JobKind;
    if (!kind.keepsPartial || e.partial === undefined) return undefined;
    try {
      return await kind.finish(job.request, e.partial, this.o.context(), true);
    } catch (saveError) {
      console.error(`job queue: could not keep the partial result of ${job.kind} job ${job.id}`, saveError);
      return undefined;
    }
  }

  /** Keep what listJobs shows of a finished job, and nothing else (no request, no preview). */
  private remember(job: Job, state: 'done' | 'failed' | 'cancelled', error?: JobInfo['error']): void {
    const progress = job.progress ? { ...job.progress } : undefined;
    delete progress?.previewPng;
    this.finished.unshift({
      jobId: job.id,
      kind: job.kind,
      state,
      label: job.label,
      ...(progress ? { progress } : {}),
      ...(error ? { error } : {}),
    });
    this.finished.length = Math.min(this.finished.length, KEEP_FINISHED_JOBS);
  }

  private notifyIdle(): void {
    if (this.running || this.waiting.length) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

function isAbortLike(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'CancelledError');
}
