/**
 * The API object the renderer talks to: `window.studio` in Electron (exposed by the preload via
 * contextBridge) and the object `connectWebBridge()` returns in a browser. Both are built by
 * `createStudioApi` (client.ts) over a message transport, so they behave identically.
 *
 * Requests resolve with the validated response or reject with a `StudioError` whose `code` is
 * stable. (Across contextBridge only an Error's message survives, so the message is prefixed with
 * `[CODE] `; use `studioErrorCode(e)` to read it back on either side.)
 */
import type { JobInfo, JobProgress, JobResult } from './ipc/jobs.js';
import type { LibraryItem } from './ipc/library.js';
import type { ModelInfo } from './ipc/models.js';
import type { StudioEvent } from './ipc/events.js';
import type { LibraryPage, ParamsOf, RequestOf, RequestType, ResponseOf, StatusResult, TokenizeResult } from './ipc/requests.js';
import type { Settings, SettingsPatch } from './ipc/settings.js';

export interface JobAccepted {
  jobId: string;
}

export interface StudioApi {
  /** Which shell hosts the UI. */
  readonly transport: 'electron' | 'web';
  /** Generic request (the methods below are shorthands for it). */
  request<T extends RequestType>(request: RequestOf<T>): Promise<ResponseOf<T>>;

  /** Queue a generation; follow it with job events for the returned jobId. */
  generate(params: ParamsOf<'generate'>): Promise<JobAccepted>;
  /** Queue an inversion (one image; call once per image for a queue). */
  invert(params: ParamsOf<'invert'>): Promise<JobAccepted>;
  /** Cancel a queued or running job; a running inversion ends with `job.cancelled` carrying its best result. */
  cancel(jobId: string): Promise<{ cancelled: boolean }>;
  listJobs(): Promise<{ jobs: JobInfo[] }>;

  listLibrary(params?: ParamsOf<'listLibrary'>): Promise<LibraryPage>;
  getLibraryItem(id: string): Promise<LibraryItem>;
  deleteLibraryItem(id: string): Promise<{ deleted: boolean }>;

  listModels(): Promise<{ models: ModelInfo[] }>;
  /** Queue a model download (resumable; progress as job events with bytes/totalBytes). */
  downloadModel(id: string): Promise<JobAccepted>;
  /** Queue the import of a model folder on the engine's machine. */
  importModel(path: string): Promise<JobAccepted>;

  getSettings(): Promise<Settings>;
  setSettings(patch: SettingsPatch): Promise<Settings>;

  /** Live token counter: tokens of `text` under the model set's CLIP tokenizer, and what is dropped. */
  tokenize(text: string, modelSet?: string): Promise<TokenizeResult>;
  getStatus(): Promise<StatusResult>;

  /** Subscribe to all events; returns the unsubscribe function. */
  onEvent(listener: (event: StudioEvent) => void): () => void;
  /** URL for a library image file (`item.file`, `candidate.file`), usable as an <img> src. */
  imageUrl(file: string): string;
}

export class StudioError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
  ) {
    super(`[${code}] ${detail}`);
    this.name = 'StudioError';
  }
}

/** The stable code of an error thrown by a StudioApi call (also after crossing contextBridge). */
export function studioErrorCode(e: unknown): string | undefined {
  if (e instanceof StudioError) return e.code;
  const m = /^\[([A-Z_]+)\] /.exec(e instanceof Error ? e.message : String(e));
  return m?.[1];
}

/** The message of a StudioApi error without its `[CODE] ` prefix. */
export function studioErrorMessage(e: unknown): string {
  if (e instanceof StudioError) return e.detail;
  const s = e instanceof Error ? e.message : String(e);
  return s.replace(/^\[[A-Z_]+\] /, '');
}

export type {
  StudioEvent,
  JobInfo,
  JobProgress,
  JobResult,
  LibraryItem,
  ModelInfo,
  Settings,
  SettingsPatch,
  StatusResult,
  TokenizeResult,
  LibraryPage,
};
