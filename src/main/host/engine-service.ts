/**
 * EngineService: the engine behind every shell (Electron utility process, web-bridge worker,
 * tests). Plain Node, no electron. It validates every incoming client message, answers requests,
 * runs jobs one at a time (each cancellable through an AbortController), streams progress as
 * events, and persists results in the library.
 *
 * Output goes through one `send` callback as protocol ServerMessages, so the same object works
 * over any transport.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { CancelledError, EngineError } from '../engine/errors.js';
import type { ErrorInfo } from '../../shared/ipc/common.js';
import type { StudioEvent } from '../../shared/ipc/events.js';
import type { JobInfo, JobKind, JobProgress, JobResult } from '../../shared/ipc/jobs.js';
import type { InversionRecord, LibraryItem } from '../../shared/ipc/library.js';
import { MAX_IMAGE_BYTES, MAX_PREVIEW_BYTES } from '../../shared/ipc/limits.js';
import { checkEvent, parseClientMessage, type ServerMessage } from '../../shared/ipc/protocol.js';
import {
  ResponseSchemas,
  isJobRequest,
  type JobRequestType,
  type Request,
  type RequestOf,
  type RequestType,
  type ResponseOf,
} from '../../shared/ipc/requests.js';
import type { Settings } from '../../shared/ipc/settings.js';
import { type EngineAdapter, type EngineProgress, type InvertOutput } from './engine-adapter.js';
import { STUDIO_VERSION, jobLabel, toErrorInfo } from './host-common.js';
import { Library, newItemId } from './library.js';
import { MemorySettingsStore, type SettingsStore } from './settings-store.js';

export interface EngineServiceOptions {
  engine: EngineAdapter;
  settings: Settings;
  libraryDir: string;
  send: (message: ServerMessage) => void;
  /** Where getSettings/setSettings go when they reach the service (the host usually answers them itself). */
  settingsStore?: SettingsStore;
  transport?: 'electron' | 'web';
  /** Minimum milliseconds between two progress events of a job (phase changes always go out). */
  progressIntervalMs?: number;
}

interface Job {
  id: string;
  kind: JobKind;
  label: string;
  request: RequestOf<JobRequestType>;
  state: JobInfo['state'];
  controller: AbortController;
  progress?: JobProgress;
  error?: ErrorInfo;
}

const KEEP_FINISHED_JOBS = 50;

export class EngineService {
  private readonly engine: EngineAdapter;
  private readonly send: (message: ServerMessage) => void;
  private readonly settingsStore: SettingsStore;
  private readonly transport: 'electron' | 'web';
  private readonly progressIntervalMs: number;
  private library: Library;
  private queue: Job[] = [];
  private running: Job | undefined;
  private finished: Job[] = [];
  private jobCounter = 0;
  private idleWaiters: Array<() => void> = [];
  private disposed = false;

  constructor(opts: EngineServiceOptions) {
    this.engine = opts.engine;
    this.send = opts.send;
    this.settingsStore = opts.settingsStore ?? new MemorySettingsStore(opts.settings);
    this.transport = opts.transport ?? 'web';
    this.progressIntervalMs = opts.progressIntervalMs ?? 100;
    this.library = new Library(opts.libraryDir);
    this.engine.configure(this.settingsStore.get());
  }

  get libraryDir(): string {
    return this.library.dir;
  }

  /** New settings / library folder from the host. */
  async configure(settings: Settings, libraryDir: string): Promise<void> {
    if (this.settingsStore instanceof MemorySettingsStore) await this.settingsStore.set(settings);
    this.engine.configure(settings);
    if (libraryDir !== this.library.dir) this.library = new Library(libraryDir);
  }

  /**
   * Handle one raw client message (a JSON string or a structured-cloned object). Invalid messages
   * produce an `error` event (and an error response when their id is readable) and change nothing.
   * `pinJobId` fixes the id of a job request (used by the host to resubmit after a crash).
   */
  async handle(raw: unknown, pinJobId?: string): Promise<void> {
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      this.emit(parsed.error);
      if (parsed.error.requestId) {
        this.send({
          kind: 'response',
          id: parsed.error.requestId,
          ok: false,
          error: { code: parsed.error.code, message: parsed.error.message },
        });
      }
      return;
    }
    const { id, request } = parsed.value;
    try {
      const result = await this.dispatch(request, pinJobId);
      this.send({ kind: 'response', id, ok: true, result });
    } catch (e) {
      this.send({ kind: 'response', id, ok: false, error: toErrorInfo(e) });
    }
  }

  /** Handle an already validated request in-process; resolves with its response. */
  async request<T extends RequestType>(request: RequestOf<T>, pinJobId?: string): Promise<ResponseOf<T>> {
    return (await this.dispatch(request, pinJobId)) as ResponseOf<T>;
  }

  private async dispatch(request: Request, pinJobId?: string): Promise<unknown> {
    if (this.disposed) throw new EngineError('RUNTIME', 'the engine is shutting down');
    if (isJobRequest(request)) return this.enqueue(request, pinJobId);
    let result: unknown;
    switch (request.type) {
      case 'cancel':
        result = { cancelled: this.cancel(request.jobId) };
        break;
      case 'listJobs':
        result = { jobs: this.jobs() };
        break;
      case 'listLibrary':
        result = await this.library.list(request);
        break;
      case 'getLibraryItem': {
        const item = await this.library.get(request.id);
        if (!item) throw new EngineError('INVALID_ARGUMENT', `no library item '${request.id}'`);
        result = item;
        break;
      }
      case 'deleteLibraryItem': {
        const item = await this.library.remove(request.id);
        if (item) this.emit({ type: 'library.changed', change: 'removed', item });
        result = { deleted: Boolean(item) };
        break;
      }
      case 'listModels':
        result = { models: await this.engine.listModels() };
        break;
      case 'getSettings':
        result = this.settingsStore.get();
        break;
      case 'setSettings': {
        const settings = await this.settingsStore.set(request.patch);
        this.engine.configure(settings);
        this.emit({ type: 'settings.changed', settings });
        result = settings;
        break;
      }
      case 'tokenize':
        result = await this.engine.tokenize(request.text, request.modelSet ?? this.settingsStore.get().modelSet);
        break;
      case 'getStatus':
        result = {
          engine: 'ready',
          restarts: 0,
          transport: this.transport,
          version: STUDIO_VERSION,
          libraryDir: this.library.dir,
          jobs: this.jobs(),
          capabilities: [...this.engine.capabilities],
        };
        break;
    }
    // Responses are validated like events: an engine that returns a wrong shape is reported, not forwarded.
    return ResponseSchemas[request.type].parse(result);
  }

  /** Snapshot of queued, running and recently finished jobs. */
  jobs(): JobInfo[] {
    const all = [...(this.running ? [this.running] : []), ...this.queue, ...this.finished];
    return all.map((j) => ({
      jobId: j.id,
      kind: j.kind,
      state: j.state,
      label: j.label,
      ...(j.progress ? { progress: j.progress } : {}),
      ...(j.error ? { error: j.error } : {}),
    }));
  }

  /** Resolves when no job is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancel everything and stop accepting work. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const j of [...this.queue]) this.cancel(j.id);
    if (this.running) this.running.controller.abort();
    await this.idle();
    await this.engine.dispose?.();
  }

  private enqueue(request: RequestOf<JobRequestType>, pinJobId?: string): { jobId: string } {
    const id = pinJobId ?? `job-${Date.now().toString(36)}-${(++this.jobCounter).toString(36)}`;
    if (this.findJob(id)) throw new EngineError('INVALID_ARGUMENT', `job '${id}' already exists`);
    const job: Job = { id, kind: request.type, label: jobLabel(request), request, state: 'queued', controller: new AbortController() };
    this.queue.push(job);
    this.emit({
      type: 'job.queued',
      jobId: id,
      kind: job.kind,
      label: job.label,
      position: this.queue.length - 1 + (this.running ? 1 : 0),
    });
    queueMicrotask(() => void this.pump());
    return { jobId: id };
  }

  private findJob(id: string): Job | undefined {
    if (this.running?.id === id) return this.running;
    return this.queue.find((j) => j.id === id) ?? this.finished.find((j) => j.id === id);
  }

  private cancel(jobId: string): boolean {
    const queued = this.queue.findIndex((j) => j.id === jobId);
    if (queued >= 0) {
      const [job] = this.queue.splice(queued, 1);
      this.finish(job!, 'cancelled');
      this.emit({ type: 'job.cancelled', jobId });
      this.notifyIdle();
      return true;
    }
    if (this.running?.id === jobId && !this.running.controller.signal.aborted) {
      this.running.controller.abort();
      return true;
    }
    return false;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) {
      this.notifyIdle();
      return;
    }
    this.running = job;
    job.state = 'running';
    this.emit({ type: 'job.started', jobId: job.id, kind: job.kind });
    try {
      const result = await this.runJob(job);
      this.finish(job, 'done');
      this.emit({ type: 'job.result', jobId: job.id, result });
    } catch (e) {
      if (e instanceof CancelledError || (job.controller.signal.aborted && isAbortLike(e))) {
        let partial: JobResult | undefined;
        try {
          if (job.request.type === 'invert' && e instanceof CancelledError && e.partial) {
            partial = await this.saveInversion(job.request, e.partial as InvertOutput, true);
          }
        } catch (saveError) {
          console.error('engine-service: could not save the partial inversion', saveError);
        }
        this.finish(job, 'cancelled');
        this.emit({ type: 'job.cancelled', jobId: job.id, ...(partial ? { partial } : {}) });
      } else {
        const error = toErrorInfo(e);
        job.error = error;
        this.finish(job, 'failed');
        this.emit({ type: 'job.failed', jobId: job.id, code: error.code, message: error.message });
      }
    } finally {
      this.running = undefined;
      void this.pump();
    }
  }

  private finish(job: Job, state: JobInfo['state']): void {
    job.state = state;
    this.finished.unshift(job);
    this.finished.length = Math.min(this.finished.length, KEEP_FINISHED_JOBS);
  }

  private notifyIdle(): void {
    if (this.running || this.queue.length) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private progressReporter(job: Job): (p: EngineProgress) => void {
    let lastSent = 0;
    let phase = '';
    let phaseStart = Date.now();
    return (p) => {
      const now = Date.now();
      if (p.phase !== phase) {
        phase = p.phase;
        phaseStart = now;
      } else if (now - lastSent < this.progressIntervalMs && p.step < p.total && !p.previewPng) {
        return;
      }
      lastSent = now;
      const progress: JobProgress = {
        phase: p.phase.slice(0, 64),
        step: Math.max(0, Math.floor(p.step)),
        total: Math.max(0, Math.floor(p.total)),
      };
      if (Number.isFinite(p.loss)) progress.loss = p.loss!;
      if (Number.isFinite(p.lr)) progress.lr = p.lr!;
      const eta = p.etaSeconds ?? (p.step > 0 && p.total > p.step ? ((now - phaseStart) / 1000 / p.step) * (p.total - p.step) : undefined);
      if (eta !== undefined && Number.isFinite(eta) && eta >= 0) progress.etaSeconds = eta;
      if (p.previewPng && p.previewPng.byteLength <= MAX_PREVIEW_BYTES) {
        progress.previewPng = `data:image/png;base64,${Buffer.from(p.previewPng).toString('base64')}`;
      }
      for (const k of ['bytes', 'totalBytes'] as const)
        if (p[k] !== undefined && Number.isFinite(p[k])) progress[k] = Math.max(0, Math.floor(p[k]!));
      if (p.bytesPerSecond !== undefined && Number.isFinite(p.bytesPerSecond)) progress.bytesPerSecond = Math.max(0, p.bytesPerSecond);
      if (p.message) progress.message = p.message.slice(0, 4000);
      job.progress = progress;
      this.emit({ type: 'job.progress', jobId: job.id, progress });
    };
  }

  private async runJob(job: Job): Promise<JobResult> {
    const opts = { signal: job.controller.signal, onProgress: this.progressReporter(job) };
    const settings = this.settingsStore.get();
    const req = job.request;
    switch (req.type) {
      case 'generate': {
        const d = settings.defaults.generate;
        const spec = {
          prompt: req.prompt,
          negativePrompt: req.negativePrompt ?? d.negativePrompt,
          seed: req.seed ?? d.seed,
          steps: req.steps ?? d.steps,
          scheduler: req.scheduler ?? d.scheduler,
          guidance: req.guidance ?? d.guidance,
          width: req.width ?? d.width,
          height: req.height ?? d.height,
          modelSet: req.modelSet ?? settings.modelSet,
        };
        const t0 = performance.now();
        const out = await this.engine.generate(spec, opts);
        opts.onProgress({ phase: 'saving', step: 0, total: 1 });
        const id = newItemId();
        const params = {
          prompt: spec.prompt,
          negativePrompt: spec.negativePrompt,
          seed: spec.seed,
          steps: out.params.steps,
          scheduler: out.params.scheduler,
          guidance: out.params.guidance,
          width: out.params.width,
          height: out.params.height,
          model: out.params.model || spec.modelSet,
        };
        const item = await this.library.add(
          { kind: 'generation', id, createdAt: new Date().toISOString(), file: `${id}.png`, width: out.width, height: out.height, params },
          out.png,
        );
        this.emit({ type: 'library.changed', change: 'added', item });
        return { kind: 'generate', item, seconds: (performance.now() - t0) / 1000, warnings: out.warnings.slice(0, 32) };
      }
      case 'invert': {
        const image = await this.readInvertImage(req);
        const d = settings.defaults.invert;
        const spec = {
          image,
          preset: req.preset ?? d.preset,
          objective: req.objective ?? d.objective,
          iterations: req.iterations ?? d.iterations,
          init: req.init,
          seed: req.seed ?? 0,
          modelSet: req.modelSet ?? settings.modelSet,
        };
        const out = await this.engine.invert(spec, opts);
        opts.onProgress({ phase: 'saving', step: 0, total: 1 });
        return this.saveInversion(req, out, false, image);
      }
      case 'downloadModel':
        return { kind: 'downloadModel', model: await this.engine.downloadModel(req.id, opts) };
      case 'importModel':
        return { kind: 'importModel', model: await this.engine.importModel(req.path, opts) };
    }
  }

  private async readInvertImage(req: RequestOf<'invert'>): Promise<Buffer> {
    if (req.image.source === 'data') {
      const b64 = req.image.dataUrl.slice(req.image.dataUrl.indexOf(',') + 1);
      const buf = Buffer.from(b64, 'base64');
      if (buf.byteLength === 0) throw new EngineError('IMAGE', 'the image is empty (0 bytes)');
      if (buf.byteLength > MAX_IMAGE_BYTES) throw new EngineError('IMAGE', 'the image is larger than 50 MB');
      return buf;
    }
    const item = await this.library.get(req.image.id);
    if (!item) throw new EngineError('INVALID_ARGUMENT', `no library item '${req.image.id}'`);
    const file = this.library.filePath(item.file);
    if (!file) throw new EngineError('INVALID_ARGUMENT', `library item '${item.id}' has no image`);
    return readFile(file);
  }

  /** Store an inversion (complete or the best-so-far of a cancelled one) and build its result. */
  private async saveInversion(req: RequestOf<'invert'>, out: InvertOutput, partial: boolean, image?: Buffer): Promise<JobResult> {
    const source = image ?? (await this.readInvertImage(req));
    const id = newItemId();
    let target: { data: Buffer; info: { width: number; height: number } };
    try {
      target = await sharp(source).rotate().png().toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw new EngineError('IMAGE', `could not read the target image: ${(e as Error).message}`);
    }
    const targetFile = await this.library.writeFile(`${id}-target`, 'png', target.data);
    const candidates: InversionRecord['candidates'] = [];
    let bestPng: Uint8Array | undefined;
    for (const [i, c] of out.candidates.slice(0, 256).entries()) {
      let file: string | undefined;
      if (c.png && i < 32) {
        file = await this.library.writeFile(`${id}-c${i}`, 'png', c.png);
        bestPng ??= c.png;
      }
      candidates.push({
        prompt: c.prompt,
        score: Number.isFinite(c.score) ? c.score : 0,
        ...(c.iteration !== undefined ? { iteration: c.iteration } : {}),
        ...(file ? { file } : {}),
      });
    }
    const shown = bestPng ? await sharp(bestPng).metadata() : target.info;
    const settings = this.settingsStore.get();
    const inversion: InversionRecord = {
      prompt: out.prompt,
      initialPrompt: out.initialPrompt,
      candidates,
      loss: out.loss
        .slice(0, 10_000)
        .map((x) => (Number.isFinite(x) ? x : Number.NaN))
        .filter((x) => !Number.isNaN(x)),
      iterations: out.iterations,
      seconds: out.seconds,
      preset: req.preset ?? settings.defaults.invert.preset,
      objective: out.objective,
      model: req.modelSet ?? settings.modelSet,
      targetFile,
      partial,
    };
    const title = req.image.source === 'data' ? req.image.name : undefined;
    const item: LibraryItem = await this.library.add(
      {
        kind: 'inversion',
        id,
        createdAt: new Date().toISOString(),
        file: `${id}.png`,
        width: shown.width ?? 1,
        height: shown.height ?? 1,
        ...(title ? { title } : {}),
        inversion,
      },
      bestPng ?? target.data,
    );
    this.emit({ type: 'library.changed', change: 'added', item });
    return {
      kind: 'invert',
      item,
      prompt: inversion.prompt,
      initialPrompt: inversion.initialPrompt,
      candidates: inversion.candidates,
      loss: inversion.loss,
      iterations: inversion.iterations,
      seconds: inversion.seconds,
      warnings: out.warnings.slice(0, 32),
    };
  }

  private emit(event: StudioEvent): void {
    let checked: StudioEvent;
    try {
      checked = checkEvent(event);
    } catch (e) {
      console.error('engine-service: refusing to send an invalid event', event.type, e);
      if ('jobId' in event && event.type !== 'job.failed') {
        this.send({
          kind: 'event',
          event: {
            type: 'job.failed',
            jobId: event.jobId,
            code: 'INTERNAL',
            message: `the engine produced an invalid ${event.type} event`,
          },
        });
      }
      return;
    }
    this.send({ kind: 'event', event: checked });
  }
}

function isAbortLike(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'CancelledError');
}
