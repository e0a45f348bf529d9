/**
 * EngineService: the engine behind every shell (Electron utility process, web-bridge worker,
 * tests). Plain Node, no electron. It validates every incoming client message, answers plain
 * requests from one table (HANDLERS below, one entry per request type), hands job requests to
 * the job queue (jobs/queue.ts; what each job does is in jobs/<kind>.ts), and sends everything
 * out through one `send` callback as protocol ServerMessages, so the same object works over any
 * transport.
 */
import { EngineError } from '../engine/errors.js';
import type { StudioEvent } from '../../shared/ipc/events.js';
import type { JobInfo } from '../../shared/ipc/jobs.js';
import { INVERSION_METHODS } from '../../shared/ipc/methods.js';
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
import type { EngineAdapter } from './engine-adapter.js';
import { listEvaluations, readEvaluation } from './evaluations.js';
import { branchEvolution, exportEvolution, listEvolutionSessions, lockEvolution, openEvolution } from './evolutions.js';
import { STUDIO_VERSION, toErrorInfo } from './host-common.js';
import { JOB_KINDS } from './jobs/kinds.js';
import { JobQueue } from './jobs/queue.js';
import { Library } from './library.js';
import { recentNotices } from './notices.js';
import { defaultExportDir, exportSegmentation, MapsExpiredError, SegmentationCache } from './segmentations.js';
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
  /** Jobs that may wait behind the running one (default MAX_QUEUED_JOBS). */
  maxQueuedJobs?: number;
}

/** Requests answered at once (the others start a job). */
type PlainRequestType = Exclude<RequestType, JobRequestType>;
type Handlers = { [T in PlainRequestType]: (request: RequestOf<T>) => Promise<ResponseOf<T>> | ResponseOf<T> };

export class EngineService {
  private readonly engine: EngineAdapter;
  private readonly send: (message: ServerMessage) => void;
  private readonly settingsStore: SettingsStore;
  private readonly transport: 'electron' | 'web';
  private readonly queue: JobQueue;
  private readonly handlers: Handlers;
  private library: Library;
  private readonly segmentations = new SegmentationCache();
  /** Notices dismissed here (the host usually answers notice requests itself). */
  private readonly dismissed = new Set<string>();
  private disposed = false;

  constructor(opts: EngineServiceOptions) {
    this.engine = opts.engine;
    this.send = opts.send;
    this.settingsStore = opts.settingsStore ?? new MemorySettingsStore(opts.settings);
    this.transport = opts.transport ?? 'web';
    this.library = new Library(opts.libraryDir);
    this.queue = new JobQueue({
      kinds: JOB_KINDS,
      context: () => ({
        engine: this.engine,
        library: this.library,
        settings: this.settingsStore.get(),
        emit: (e) => this.emit(e),
        segmentations: this.segmentations,
      }),
      emit: (e) => this.emit(e),
      ...(opts.progressIntervalMs !== undefined ? { progressIntervalMs: opts.progressIntervalMs } : {}),
      ...(opts.maxQueuedJobs !== undefined ? { maxQueued: opts.maxQueuedJobs } : {}),
    });
    this.handlers = this.createHandlers();
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

  /** Handle a request in-process (job requests are checked against their kind's schema); resolves with its response. */
  async request<T extends RequestType>(request: RequestOf<T>, pinJobId?: string): Promise<ResponseOf<T>> {
    if (isJobRequest(request)) JOB_KINDS[request.type].schema.parse(request);
    return (await this.dispatch(request, pinJobId)) as ResponseOf<T>;
  }

  private async dispatch(request: Request, pinJobId?: string): Promise<unknown> {
    if (this.disposed) throw new EngineError('RUNTIME', 'the engine is shutting down');
    const result = isJobRequest(request)
      ? this.queue.submit(request, pinJobId)
      : await (this.handlers[request.type] as (r: Request) => unknown)(request);
    // Responses are validated like events: an engine that returns a wrong shape is reported, not forwarded.
    return ResponseSchemas[request.type].parse(result);
  }

  private createHandlers(): Handlers {
    return {
      cancel: (r) => ({ cancelled: this.queue.cancel(r.jobId) }),
      listJobs: () => ({ jobs: this.jobs() }),
      listLibrary: (r) => this.library.list(r),
      getLibraryItem: async (r) => {
        const item = await this.library.get(r.id);
        if (!item) throw new EngineError('INVALID_ARGUMENT', `no library item '${r.id}'`);
        return item;
      },
      deleteLibraryItem: async (r) => {
        const item = await this.library.remove(r.id);
        if (item) this.emit({ type: 'library.changed', change: 'removed', item });
        return { deleted: Boolean(item) };
      },
      listModels: async () => ({ models: await this.engine.listModels() }),
      getSettings: () => this.settingsStore.get(),
      setSettings: async (r) => {
        const settings = await this.settingsStore.set(r.patch);
        this.engine.configure(settings);
        this.emit({ type: 'settings.changed', settings });
        return settings;
      },
      tokenize: (r) => this.engine.tokenize(r.text, r.modelSet ?? this.settingsStore.get().modelSet),
      exportSegmentation: async (r) => {
        const entry = this.segmentations.get(r.id);
        if (!entry) throw new MapsExpiredError();
        return exportSegmentation(entry, r.dir ?? defaultExportDir(this.library.dir, entry.label), r.threshold);
      },
      listNotices: () => ({ notices: recentNotices().filter((n) => !this.dismissed.has(n.id)) }),
      dismissNotice: (r) => {
        const known = recentNotices().some((n) => n.id === r.id) && !this.dismissed.has(r.id);
        this.dismissed.add(r.id);
        if (known) this.emit({ type: 'notice.dismissed', id: r.id });
        return { dismissed: known };
      },
      listEvaluations: async () => ({ evaluations: await listEvaluations(this.library.dir) }),
      getEvaluation: (r) => readEvaluation(this.library.dir, r.id),
      listMethods: async (r) => {
        const modelSet = r.modelSet ?? this.settingsStore.get().modelSet;
        if (this.engine.methods) return { modelSet, methods: await this.engine.methods(modelSet) };
        // An engine without the baselines runs EDITOR only.
        const reason = 'this build of the engine runs EDITOR only';
        return {
          modelSet,
          methods: INVERSION_METHODS.map((m) =>
            m === 'editor' ? { method: m, available: true } : { method: m, available: false, reason },
          ),
        };
      },
      openEvolution: (r) => openEvolution(this.library.dir, r.session),
      lockEvolution: (r) => lockEvolution(this.library.dir, r.session, r.id, r.words),
      branchEvolution: (r) => branchEvolution(this.library.dir, r.session, r.from),
      exportEvolution: (r) => exportEvolution(this.library.dir, r.session, r.dir),
      listEvolutions: async () => ({ sessions: await listEvolutionSessions(this.library.dir) }),
      getStatus: () => ({
        engine: 'ready',
        restarts: 0,
        transport: this.transport,
        version: STUDIO_VERSION,
        libraryDir: this.library.dir,
        jobs: this.jobs(),
        capabilities: [...this.engine.capabilities],
      }),
    };
  }

  /** Snapshot of queued, running and recently finished jobs. */
  jobs(): JobInfo[] {
    return this.queue.jobs();
  }

  /** Resolves when no job is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Cancel everything and stop accepting work. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue.close();
    await this.engine.dispose?.();
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
