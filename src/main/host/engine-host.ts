/**
 * EngineHost: the supervisor side of the engine process, shared by the Electron main process
 * (worker = utilityProcess) and the web bridge (worker = child_process.fork).
 *
 * - Validates every client message before it reaches the engine (invalid ones get an `error`
 *   event and change nothing).
 * - Answers getSettings/setSettings itself (the settings store lives here: electron-store in the
 *   app, a JSON file in the bridge) and pushes new settings to the engine.
 * - Keeps the notices (a damaged settings file moved aside, a library index rebuilt) until the
 *   user dismisses them, and sends them to every client, also to clients that connect later
 *   (`notice` events on connecting, `listNotices`). A library's notices go when another library
 *   folder is used.
 * - Routes responses to the client that asked; broadcasts events to every client.
 * - Notices when the engine process dies: reports `engine.status: crashed`, fails the running job
 *   with ENGINE_CRASHED, answers in-flight requests, restarts the engine, resubmits queued jobs
 *   under their ids, and reports `restarted`. The library is on disk and written atomically, so
 *   it is intact.
 */
import type { StudioEvent } from '../../shared/ipc/events.js';
import type { JobInfo } from '../../shared/ipc/jobs.js';
import { checkEvent, parseClientMessage, type ServerMessage } from '../../shared/ipc/protocol.js';
import {
  isJobRequest,
  type EngineState,
  type Request,
  type RequestOf,
  type RequestType,
  type ResponseOf,
  type StatusResult,
} from '../../shared/ipc/requests.js';
import type { Settings } from '../../shared/ipc/settings.js';
import path from 'node:path';
import { MAX_NOTICES } from '../../shared/ipc/notices.js';
import { STUDIO_VERSION, jobLabel, toErrorInfo } from './host-common.js';
import { makeNotice, noticeEvent, type StudioNotice } from './notices.js';
import type { SettingsStore } from './settings-store.js';
import type { HostToWorker, WorkerConfig, WorkerToHost } from './worker-protocol.js';

export interface WorkerHandle {
  readonly pid: number | undefined;
  send(msg: HostToWorker): void;
  onMessage(handler: (msg: WorkerToHost) => void): void;
  /** Called once when the process ends, for whatever reason. */
  onExit(handler: (code: number | null, signal: string | null) => void): void;
  kill(): void;
}
export type WorkerLauncher = () => WorkerHandle;

export interface EngineHostOptions {
  launch: WorkerLauncher;
  settings: SettingsStore;
  /** Library folder for the given settings (settings.libraryDir or the shell's default). */
  libraryDir: (settings: Settings) => string;
  transport: 'electron' | 'web';
  /** Give up after this many crashes within `restartWindowMs` (default 5 in 60 s). */
  maxRestarts?: number;
  restartWindowMs?: number;
  /**
   * Called for each notice (a damaged settings file or library index, ...) raised by the settings
   * store or the engine worker; e.g. the web bridge prints them. Default: none (they are kept in
   * `notices()` either way).
   */
  onNotice?: (notice: StudioNotice) => void;
}

export interface ClientConnection {
  /** Feed one raw message from the client (string from a WebSocket, object from Electron IPC). */
  handle(raw: unknown): void;
  close(): void;
}

interface TrackedJob {
  jobId: string;
  request: Request;
  state: 'submitted' | 'queued' | 'running';
  label: string;
}

interface Pending {
  client: Client;
  clientId: string;
  request: Request;
  jobId?: string;
}

interface Client {
  send: (msg: ServerMessage) => void;
  open: boolean;
}

type LocalAnswer<T extends RequestType> = (
  request: RequestOf<T>,
  reply: (result: ResponseOf<T>) => void,
  fail: (e: unknown) => void,
) => boolean;

export class EngineHost {
  private readonly opts: Required<EngineHostOptions>;
  private worker: WorkerHandle | undefined;
  private state: EngineState = 'stopped';
  private restartCount = 0;
  private crashTimes: number[] = [];
  private capabilities: string[] = [];
  private clients = new Set<Client>();
  private pending = new Map<string, Pending>();
  private jobs = new Map<string, TrackedJob>();
  /** Messages waiting for the engine to be ready. */
  private outbox: HostToWorker[] = [];
  private seq = 0;
  private stopping = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  /** Requests the host answers itself; an answer returning false passes the request on to the engine. */
  private readonly localAnswers: { [T in RequestType]?: LocalAnswer<T> } = {
    getSettings: (_r, reply) => {
      reply(this.opts.settings.get());
      return true;
    },
    setSettings: (r, reply, fail) => {
      const libraryBefore = this.libraryDir;
      this.opts.settings.set(r.patch).then((settings) => {
        reply(settings);
        this.toWorker({ kind: 'configure', config: this.config() });
        this.broadcast({ type: 'settings.changed', settings });
        if (this.libraryDir !== libraryBefore) this.dropLibraryNotices(libraryBefore);
      }, fail);
      return true;
    },
    listNotices: (_r, reply) => {
      reply({ notices: this.notices() });
      return true;
    },
    dismissNotice: (r, reply) => {
      reply({ dismissed: this.dismiss(r.id) });
      return true;
    },
    cancel: (r, reply) => {
      const j = this.jobs.get(r.jobId);
      // Jobs waiting for a restarted engine are cancelled here; everything else by the engine.
      if (!j || this.worker) return false;
      this.jobs.delete(j.jobId);
      for (const [id, p] of this.pending) if (p.jobId === j.jobId) this.pending.delete(id);
      reply({ cancelled: true });
      this.broadcast({ type: 'job.cancelled', jobId: j.jobId });
      return true;
    },
    getStatus: (_r, reply) => {
      if (this.state === 'ready' || this.state === 'restarted') return false;
      reply(this.localStatus());
      return true;
    },
  };

  private noticeList: StudioNotice[] = [];

  constructor(options: EngineHostOptions) {
    this.opts = { maxRestarts: 5, restartWindowMs: 60_000, onNotice: () => {}, ...options };
    for (const n of this.opts.settings.notices?.() ?? []) this.addNotice(makeNotice(n));
  }

  /** Notices still relevant (oldest first, at most MAX_NOTICES): what the UI shows the user. */
  notices(): StudioNotice[] {
    return [...this.noticeList];
  }

  private addNotice(n: StudioNotice): void {
    // The same notice twice (a worker resending after a restart): once.
    if (this.noticeList.some((x) => x.id === n.id || (x.at === n.at && x.message === n.message))) return;
    this.noticeList.push(n);
    if (this.noticeList.length > MAX_NOTICES) this.noticeList.shift();
    try {
      this.opts.onNotice(n);
    } catch (e) {
      console.error('engine-host: notice handler failed', e);
    }
    for (const c of this.clients) this.deliverNotice(c, n);
  }

  /** Forget a notice (the user read it), for every client. False when it is not (or no longer) kept. */
  dismiss(id: string): boolean {
    const i = this.noticeList.findIndex((n) => n.id === id);
    if (i < 0) return false;
    this.noticeList.splice(i, 1);
    this.broadcast({ type: 'notice.dismissed', id });
    return true;
  }

  /** Notices about a library folder that is no longer in use are no longer relevant. */
  private dropLibraryNotices(oldDir: string): void {
    const inside = (file: string | undefined): boolean => {
      if (!file) return true;
      const rel = path.relative(oldDir, file);
      return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    };
    for (const n of this.noticeList.filter((x) => x.source === 'library' && inside(x.file))) this.dismiss(n.id);
  }

  private deliverNotice(client: Client, n: StudioNotice): void {
    let event: StudioEvent;
    try {
      event = checkEvent(noticeEvent(n));
    } catch (e) {
      console.error('engine-host: dropped an invalid notice', e);
      return;
    }
    this.sendTo(client, { kind: 'event', event });
  }

  get engineState(): EngineState {
    return this.state;
  }
  get restarts(): number {
    return this.restartCount;
  }
  get workerPid(): number | undefined {
    return this.worker?.pid;
  }
  get libraryDir(): string {
    return this.opts.libraryDir(this.opts.settings.get());
  }

  /** Start the engine process; resolves when it is ready. */
  start(): Promise<void> {
    this.stopping = false;
    if (!this.worker) this.spawn();
    return this.whenReady();
  }

  whenReady(): Promise<void> {
    if (this.state === 'ready' || this.state === 'restarted') return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Stop the engine process (no restart). */
  async stop(): Promise<void> {
    this.stopping = true;
    const w = this.worker;
    if (!w) return;
    await new Promise<void>((resolve) => {
      w.onExit(() => resolve());
      w.kill();
    });
  }

  /** Register a client; `send` receives its responses and every broadcast event. */
  connect(send: (msg: ServerMessage) => void): ClientConnection {
    const client: Client = { send, open: true };
    this.clients.add(client);
    this.sendTo(client, { kind: 'event', event: { type: 'engine.status', state: this.state, restarts: this.restartCount } });
    for (const n of this.noticeList) this.deliverNotice(client, n);
    return {
      handle: (raw) => this.onClientMessage(client, raw),
      close: () => {
        client.open = false;
        this.clients.delete(client);
        for (const [id, p] of this.pending) if (p.client === client && !p.jobId) this.pending.delete(id);
      },
    };
  }

  private config(): WorkerConfig {
    const settings = this.opts.settings.get();
    return { settings, libraryDir: this.opts.libraryDir(settings) };
  }

  private spawn(): void {
    this.state = this.restartCount > 0 ? this.state : 'starting';
    const w = this.opts.launch();
    this.worker = w;
    w.onMessage((msg) => {
      if (this.worker === w) this.onWorkerMessage(msg);
    });
    w.onExit((code, signal) => {
      if (this.worker === w) this.onWorkerExit(code, signal);
    });
    w.send({ kind: 'configure', config: this.config() });
  }

  private onWorkerMessage(msg: WorkerToHost): void {
    if (!msg || typeof msg !== 'object') return;
    if (msg.kind === 'ready') {
      this.capabilities = msg.capabilities;
      const wasRestart = this.restartCount > 0;
      this.state = wasRestart ? 'restarted' : 'ready';
      this.broadcast({
        type: 'engine.status',
        state: this.state,
        restarts: this.restartCount,
        ...(wasRestart ? { message: 'the engine was restarted' } : {}),
      });
      // Resubmit jobs that were queued (or submitted but never acknowledged) when the engine died.
      const resubmit = [...this.jobs.values()].filter((j) => j.state !== 'running');
      for (const j of resubmit) {
        const waiting = [...this.pending.entries()].find(([, p]) => p.jobId === j.jobId);
        const id = waiting ? waiting[0] : this.nextId('resubmit');
        j.state = 'submitted';
        this.worker!.send({ kind: 'request', id, request: j.request, jobId: j.jobId });
      }
      const queued = this.outbox.splice(0);
      for (const m of queued) this.worker!.send(m);
      for (const w of this.readyWaiters.splice(0)) w.resolve();
      return;
    }
    if (msg.kind === 'response') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      // A refused job (queue full, duplicate id) never runs: nothing to resubmit after a crash.
      if (!msg.ok && p.jobId) this.jobs.delete(p.jobId);
      let out: ServerMessage = { ...msg, id: p.clientId };
      if (msg.ok && p.request.type === 'getStatus') out = { ...msg, id: p.clientId, result: this.patchStatus(msg.result as StatusResult) };
      this.sendTo(p.client, out);
      return;
    }
    if (msg.kind === 'event') {
      this.trackJob(msg.event);
      this.broadcast(msg.event);
      return;
    }
    if (msg.kind === 'notice' && msg.notice && typeof msg.notice.message === 'string') this.addNotice(makeNotice(msg.notice));
  }

  private patchStatus(s: StatusResult): StatusResult {
    return {
      ...s,
      engine: this.state,
      restarts: this.restartCount,
      transport: this.opts.transport,
      capabilities: s.capabilities.length ? s.capabilities : this.capabilities,
    };
  }

  private trackJob(e: StudioEvent): void {
    switch (e.type) {
      case 'job.queued': {
        const j = this.jobs.get(e.jobId);
        if (j) j.state = 'queued';
        break;
      }
      case 'job.started': {
        const j = this.jobs.get(e.jobId);
        if (j) j.state = 'running';
        break;
      }
      case 'job.result':
      case 'job.failed':
      case 'job.cancelled':
        this.jobs.delete(e.jobId);
        break;
      default:
        break;
    }
  }

  private onWorkerExit(code: number | null, signal: string | null): void {
    this.worker = undefined;
    if (this.stopping) {
      this.state = 'stopped';
      this.broadcast({ type: 'engine.status', state: 'stopped', restarts: this.restartCount });
      this.failInFlight('ENGINE_STOPPED', 'the engine was stopped');
      for (const w of this.readyWaiters.splice(0)) w.reject(new Error('engine stopped'));
      return;
    }
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    this.state = 'crashed';
    this.broadcast({
      type: 'engine.status',
      state: 'crashed',
      restarts: this.restartCount,
      message: `The engine process ${how}. Restarting it; queued jobs will run, the running job failed.`,
    });
    // The running job is lost; its client learns it from job.failed.
    for (const j of [...this.jobs.values()]) {
      if (j.state !== 'running') continue;
      this.jobs.delete(j.jobId);
      this.broadcast({
        type: 'job.failed',
        jobId: j.jobId,
        code: 'ENGINE_CRASHED',
        message: `The engine process ${how} while running this job. It has been restarted; run the job again.`,
      });
    }
    // In-flight plain requests are answered with an error; job submissions wait for the resubmission.
    for (const [id, p] of this.pending) {
      if (p.jobId) continue;
      this.pending.delete(id);
      this.sendTo(p.client, {
        kind: 'response',
        id: p.clientId,
        ok: false,
        error: { code: 'ENGINE_CRASHED', message: `The engine process ${how}; try again in a moment.` },
      });
    }
    const now = Date.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.opts.restartWindowMs);
    this.crashTimes.push(now);
    if (this.crashTimes.length > this.opts.maxRestarts) {
      this.state = 'stopped';
      const message = `The engine crashed ${this.crashTimes.length} times in a row and was not restarted. Check the log, then restart Inversion Studio.`;
      this.broadcast({ type: 'engine.status', state: 'stopped', restarts: this.restartCount, message });
      this.failInFlight('ENGINE_STOPPED', message);
      for (const w of this.readyWaiters.splice(0)) w.reject(new Error(message));
      return;
    }
    this.restartCount++;
    setTimeout(() => {
      if (!this.stopping && !this.worker) this.spawn();
    }, 200 * this.crashTimes.length);
  }

  private failInFlight(code: string, message: string): void {
    for (const j of this.jobs.values()) this.broadcast({ type: 'job.failed', jobId: j.jobId, code, message });
    this.jobs.clear();
    for (const p of this.pending.values()) this.sendTo(p.client, { kind: 'response', id: p.clientId, ok: false, error: { code, message } });
    this.pending.clear();
    this.outbox = [];
  }

  private nextId(prefix = 'h'): string {
    return `${prefix}${(++this.seq).toString(36)}`;
  }

  private onClientMessage(client: Client, raw: unknown): void {
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      this.sendTo(client, { kind: 'event', event: parsed.error });
      if (parsed.error.requestId) {
        this.sendTo(client, {
          kind: 'response',
          id: parsed.error.requestId,
          ok: false,
          error: { code: parsed.error.code, message: parsed.error.message },
        });
      }
      return;
    }
    const { id: clientId, request } = parsed.value;
    const reply = (result: unknown) => this.sendTo(client, { kind: 'response', id: clientId, ok: true, result });
    const fail = (e: unknown) => this.sendTo(client, { kind: 'response', id: clientId, ok: false, error: toErrorInfo(e) });

    if (this.state === 'stopped' && this.stopping === false && this.crashTimes.length > this.opts.maxRestarts) {
      fail(
        Object.assign(new Error('the engine is not running (it crashed repeatedly); restart Inversion Studio'), { code: 'ENGINE_STOPPED' }),
      );
      return;
    }
    const answer = this.localAnswers[request.type] as LocalAnswer<RequestType> | undefined;
    if (answer?.(request, reply, fail)) return;
    const hostId = this.nextId();
    const pending: Pending = { client, clientId, request };
    if (isJobRequest(request)) {
      const jobId = `job-${Date.now().toString(36)}-${this.seq.toString(36)}`;
      pending.jobId = jobId;
      this.jobs.set(jobId, { jobId, request, state: 'submitted', label: jobLabel(request) });
      this.pending.set(hostId, pending);
      this.toWorker({ kind: 'request', id: hostId, request, jobId });
      return;
    }
    this.pending.set(hostId, pending);
    this.toWorker({ kind: 'request', id: hostId, request });
  }

  private localStatus(): StatusResult {
    const jobs: JobInfo[] = [...this.jobs.values()].map((j) => ({
      jobId: j.jobId,
      kind: j.request.type as JobInfo['kind'],
      state: j.state === 'running' ? 'running' : 'queued',
      label: j.label,
    }));
    return {
      engine: this.state,
      restarts: this.restartCount,
      transport: this.opts.transport,
      version: STUDIO_VERSION,
      libraryDir: this.libraryDir,
      jobs,
      capabilities: this.capabilities,
    };
  }

  private toWorker(msg: HostToWorker): void {
    if (this.worker && (this.state === 'ready' || this.state === 'restarted')) this.worker.send(msg);
    else this.outbox.push(msg);
  }

  private broadcast(event: StudioEvent): void {
    let checked: StudioEvent;
    try {
      checked = checkEvent(event);
    } catch (e) {
      console.error('engine-host: dropped an invalid event from the engine', e);
      return;
    }
    for (const c of this.clients) this.sendTo(c, { kind: 'event', event: checked });
  }

  private sendTo(client: Client, msg: ServerMessage): void {
    if (!client.open) return;
    try {
      client.send(msg);
    } catch (e) {
      console.error('engine-host: could not send to a client', e);
    }
  }
}
