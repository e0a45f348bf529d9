/**
 * Client-side state built from StudioApi events: jobs (with their loss curve and latest preview),
 * the library, engine status and settings. Plain classes with subscribe/getSnapshot so React reads
 * them through useSyncExternalStore; every update replaces the changed objects (immutable).
 */
import type {
  AttentionMaps,
  JobInfo,
  JobProgress,
  JobResult,
  LibraryItem,
  ModelInfo,
  Notice,
  Settings,
  StatusResult,
  StudioApi,
  StudioEvent,
} from '../../shared/api.js';
import { studioErrorMessage } from '../../shared/api.js';
import type { JobKind, JobState } from '../../shared/ipc/jobs.js';
import type { ParamsOf } from '../../shared/ipc/requests.js';

type Listener = () => void;

class Observable<T> {
  private listeners = new Set<Listener>();
  constructor(protected value: T) {}
  readonly subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  readonly get = (): T => this.value;
  protected set(next: T): void {
    if (next === this.value) return;
    this.value = next;
    for (const l of [...this.listeners]) l();
  }
}

export interface JobView {
  jobId: string;
  kind?: JobKind;
  label?: string;
  state: JobState;
  /** Jobs ahead of this one while queued. */
  position?: number;
  progress?: JobProgress;
  /** Loss values seen in progress events, in arrival order (replaced by the result's full curve). */
  loss: number[];
  /** Latest preview image (data URL). */
  preview?: string;
  /** Inversions: the last `refining` step and its total (progress moves on to other phases after). */
  iterations?: { step: number; total: number };
  result?: JobResult;
  /** Best result so far of a cancelled job. */
  partial?: JobResult;
  error?: { code: string; message: string };
  /** Milliseconds (Date.now) at job.started / at the end. */
  startedAt?: number;
  endedAt?: number;
}

const TERMINAL: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);
export const isTerminal = (s: JobState): boolean => TERMINAL.has(s);

export class JobStore extends Observable<ReadonlyMap<string, JobView>> {
  constructor() {
    super(new Map());
  }

  private update(jobId: string, f: (j: JobView) => JobView): void {
    const prev = this.value.get(jobId) ?? { jobId, state: 'queued' as const, loss: [] };
    const next = new Map(this.value);
    next.set(jobId, f(prev));
    this.set(next);
  }

  /** Seed from `listJobs`/`getStatus` when (re)connecting. */
  seed(jobs: readonly JobInfo[]): void {
    for (const j of jobs) {
      this.update(j.jobId, (p) => ({
        ...p,
        kind: j.kind,
        label: j.label,
        state: isTerminal(p.state) ? p.state : j.state,
        ...(j.progress ? { progress: j.progress } : {}),
        ...(j.error ? { error: j.error } : {}),
      }));
    }
  }

  handle(e: StudioEvent): void {
    switch (e.type) {
      case 'job.queued':
        this.update(e.jobId, (p) => ({
          ...p,
          kind: e.kind,
          label: e.label,
          position: e.position,
          state: isTerminal(p.state) ? p.state : 'queued',
        }));
        break;
      case 'job.started':
        this.update(e.jobId, (p) => ({ ...p, kind: e.kind, state: isTerminal(p.state) ? p.state : 'running', startedAt: Date.now() }));
        break;
      case 'job.progress':
        this.update(e.jobId, (p) => ({
          ...p,
          state: isTerminal(p.state) ? p.state : 'running',
          startedAt: p.startedAt ?? Date.now(),
          progress: e.progress,
          loss: e.progress.loss !== undefined ? [...p.loss, e.progress.loss] : p.loss,
          ...(e.progress.previewPng ? { preview: e.progress.previewPng } : {}),
          ...(e.progress.phase === 'refining' ? { iterations: { step: e.progress.step, total: e.progress.total } } : {}),
        }));
        break;
      case 'job.result':
        this.update(e.jobId, (p) => ({
          ...p,
          state: 'done',
          result: e.result,
          endedAt: Date.now(),
          loss: e.result.kind === 'invert' && e.result.loss.length > 0 ? e.result.loss : p.loss,
        }));
        break;
      case 'job.failed':
        this.update(e.jobId, (p) => ({ ...p, state: 'failed', error: { code: e.code, message: e.message }, endedAt: Date.now() }));
        break;
      case 'job.cancelled':
        this.update(e.jobId, (p) => ({
          ...p,
          state: 'cancelled',
          endedAt: Date.now(),
          ...(e.partial ? { partial: e.partial } : {}),
          loss: e.partial?.kind === 'invert' && e.partial.loss.length > 0 ? e.partial.loss : p.loss,
        }));
        break;
      default:
        break;
    }
  }

  /** True while some job is queued or running. */
  busy(): JobView | undefined {
    let queued: JobView | undefined;
    for (const j of this.value.values()) {
      if (j.state === 'running') return j;
      if (j.state === 'queued') queued ??= j;
    }
    return queued;
  }
}

export class LibraryStore extends Observable<{ items: LibraryItem[]; loaded: boolean; error?: string }> {
  constructor(private readonly api: StudioApi) {
    super({ items: [], loaded: false });
  }

  async load(): Promise<void> {
    try {
      const page = await this.api.listLibrary({ limit: 2000 });
      this.set({ items: page.items, loaded: true });
    } catch (e) {
      this.set({ ...this.value, loaded: true, error: e instanceof Error ? e.message : String(e) });
    }
  }

  handle(e: StudioEvent): void {
    if (e.type !== 'library.changed') return;
    const rest = this.value.items.filter((i) => i.id !== e.item.id);
    this.set({ ...this.value, items: e.change === 'added' ? [e.item, ...rest] : rest });
  }

  /** Adds an item we learned about from a job result (the event may also arrive; ids dedupe). */
  upsert(item: LibraryItem): void {
    if (this.value.items.some((i) => i.id === item.id)) return;
    this.set({ ...this.value, items: [item, ...this.value.items] });
  }
}

export interface EngineView {
  state: StatusResult['engine'] | 'connecting';
  restarts: number;
  message?: string;
  capabilities: string[];
  transport?: StatusResult['transport'];
  version?: string;
  libraryDir?: string;
  /** Set when the engine crashed or restarted since the user last dismissed the banner. */
  banner?: string;
}

export class EngineStore extends Observable<EngineView> {
  constructor() {
    super({ state: 'connecting', restarts: 0, capabilities: [] });
  }
  seed(s: StatusResult): void {
    this.set({
      ...this.value,
      state: s.engine,
      restarts: s.restarts,
      capabilities: s.capabilities,
      transport: s.transport,
      version: s.version,
      libraryDir: s.libraryDir,
    });
  }
  handle(e: StudioEvent): void {
    if (e.type !== 'engine.status') return;
    let banner = this.value.banner;
    if (e.state === 'crashed') banner = e.message ?? 'The engine stopped unexpectedly; restarting it. The running job failed.';
    else if (e.state === 'restarted')
      banner = e.message ?? `The engine crashed and was restarted (restart ${e.restarts}). The running job failed; your library is intact.`;
    else if (e.state === 'stopped') banner = e.message ?? 'The engine is not running.';
    else if (e.state === 'ready' && this.value.state === 'stopped') banner = undefined; // reconnected
    this.set({ ...this.value, state: e.state, restarts: e.restarts, ...(e.message ? { message: e.message } : {}), banner });
  }
  dismiss(): void {
    const { banner: _drop, ...rest } = this.value;
    this.set(rest);
  }
  failed(message: string): void {
    this.set({ ...this.value, state: 'stopped', banner: message });
  }
}

export class SettingsState extends Observable<Settings | undefined> {
  constructor(private readonly api: StudioApi) {
    super(undefined);
  }
  async load(): Promise<void> {
    this.set(await this.api.getSettings());
  }
  handle(e: StudioEvent): void {
    if (e.type === 'settings.changed') this.set(e.settings);
  }
  async patch(p: Parameters<StudioApi['setSettings']>[0]): Promise<void> {
    this.set(await this.api.setSettings(p));
  }
}

export class ModelsStore extends Observable<{ models: ModelInfo[]; loaded: boolean; error?: string }> {
  constructor(private readonly api: StudioApi) {
    super({ models: [], loaded: false });
  }
  async load(): Promise<void> {
    try {
      const { models } = await this.api.listModels();
      this.set({ models, loaded: true });
    } catch (e) {
      this.set({ ...this.value, loaded: true, error: e instanceof Error ? e.message : String(e) });
    }
  }
  handle(e: StudioEvent): void {
    if (e.type === 'job.result' && (e.result.kind === 'downloadModel' || e.result.kind === 'importModel')) {
      const m = e.result.model;
      const rest = this.value.models.filter((x) => x.id !== m.id);
      this.set({ ...this.value, models: [...rest, m] });
      void this.load();
    }
    if (e.type === 'job.cancelled' || e.type === 'job.failed') void this.load(); // partial download sizes changed
  }
}

/**
 * Notices from the host (a damaged settings file moved aside, a library index rebuilt), oldest
 * first: those still relevant when connecting (listNotices, and the events the host sends then),
 * and new ones as they come; dismissing one tells the host, which drops it for every client.
 */
export class NoticeStore extends Observable<readonly Notice[]> {
  constructor(private readonly api: StudioApi) {
    super([]);
  }
  async load(): Promise<void> {
    try {
      const { notices } = await this.api.listNotices();
      for (const n of notices) this.add(n);
    } catch {
      // an older host without notices: nothing to show
    }
  }
  private add(n: Notice): void {
    if (this.value.some((x) => x.id === n.id)) return;
    this.set([...this.value, n]);
  }
  private drop(id: string): void {
    if (this.value.some((x) => x.id === id)) this.set(this.value.filter((x) => x.id !== id));
  }
  handle(e: StudioEvent): void {
    if (e.type === 'notice') {
      const { type: _type, ...n } = e;
      this.add(n);
    } else if (e.type === 'notice.dismissed') this.drop(e.id);
  }
  async dismiss(id: string): Promise<void> {
    this.drop(id);
    await this.api.dismissNotice(id).catch(() => undefined);
  }
}

/** The attention maps of one image (by a key naming the image and the prompt), or the job computing them. */
export interface AttentionEntry {
  maps?: AttentionMaps;
  /** The segment job computing them. */
  jobId?: string;
  /** Set while the segment request is being submitted. */
  submitting?: boolean;
  error?: string;
}

/**
 * Attention maps the overlays have (from a generation's result or a segment job), by image key,
 * so reopening an overlay or switching views does not compute them again.
 */
export class AttentionStore extends Observable<ReadonlyMap<string, AttentionEntry>> {
  private readonly keyOfJob = new Map<string, string>();
  constructor(private readonly api: StudioApi) {
    super(new Map());
  }
  private update(key: string, entry: AttentionEntry | undefined): void {
    const next = new Map(this.value);
    if (entry) next.set(key, entry);
    else next.delete(key);
    this.set(next);
  }
  put(key: string, maps: AttentionMaps): void {
    if (this.value.get(key)?.maps === maps) return;
    this.update(key, { maps });
  }
  forget(key: string): void {
    this.update(key, undefined);
  }
  /** Start a segment job for `key` unless its maps are there or on their way. */
  async request(key: string, params: ParamsOf<'segment'>): Promise<void> {
    const e = this.value.get(key);
    if (e?.maps || e?.jobId || e?.submitting) return;
    this.update(key, { submitting: true });
    try {
      const { jobId } = await this.api.segment(params);
      this.keyOfJob.set(jobId, key);
      if (!this.value.get(key)?.maps) this.update(key, { jobId });
    } catch (err) {
      this.update(key, { error: studioErrorMessage(err) });
    }
  }
  handle(e: StudioEvent): void {
    if (e.type !== 'job.result' && e.type !== 'job.failed' && e.type !== 'job.cancelled') return;
    const key = this.keyOfJob.get(e.jobId);
    if (key === undefined) return;
    this.keyOfJob.delete(e.jobId);
    if (e.type === 'job.result' && e.result.kind === 'segment') this.update(key, { maps: e.result.maps });
    else if (e.type === 'job.failed') this.update(key, { error: `${e.message} (${e.code})` });
    else this.update(key, undefined);
  }
}

/** Everything the views share; created once per connection. */
export class Studio {
  readonly jobs = new JobStore();
  readonly library: LibraryStore;
  readonly engine = new EngineStore();
  readonly settings: SettingsState;
  readonly models: ModelsStore;
  readonly notices: NoticeStore;
  readonly attention: AttentionStore;
  private off?: () => void;

  constructor(readonly api: StudioApi) {
    this.library = new LibraryStore(api);
    this.settings = new SettingsState(api);
    this.models = new ModelsStore(api);
    this.notices = new NoticeStore(api);
    this.attention = new AttentionStore(api);
  }

  async start(): Promise<void> {
    this.off = this.api.onEvent((e) => {
      this.jobs.handle(e);
      this.library.handle(e);
      this.engine.handle(e);
      this.settings.handle(e);
      this.models.handle(e);
      this.notices.handle(e);
      this.attention.handle(e);
      if (e.type === 'job.result' && (e.result.kind === 'generate' || e.result.kind === 'invert')) this.library.upsert(e.result.item);
      if (e.type === 'job.cancelled' && e.partial && (e.partial.kind === 'generate' || e.partial.kind === 'invert'))
        this.library.upsert(e.partial.item);
      if (e.type === 'engine.status' && e.state === 'ready') void this.refresh();
    });
    await Promise.all([
      this.refresh(),
      this.library.load(),
      this.settings.load().catch(() => undefined),
      this.models.load(),
      this.notices.load(),
    ]);
  }

  /** Re-read status and jobs (after connecting or an engine restart). */
  async refresh(): Promise<void> {
    try {
      const s = await this.api.getStatus();
      this.engine.seed(s);
      this.jobs.seed(s.jobs);
    } catch (e) {
      this.engine.failed(e instanceof Error ? e.message : String(e));
    }
  }

  stop(): void {
    this.off?.();
  }
}
