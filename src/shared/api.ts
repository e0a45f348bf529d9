/**
 * The API object the renderer talks to: `window.studio` in Electron (exposed by the preload via
 * contextBridge) and the object `connectWebBridge()` returns in a browser. Both are built by
 * `createStudioApi` (client.ts) over a message transport, so they behave identically.
 *
 * One method per request type, derived from REQUEST_METHODS (how each method's arguments map onto
 * its request) and the request/response schemas (ipc/requests.ts): adding a request there and a
 * row here gives the client method, the preload's exposed entry and its types.
 *
 * Requests resolve with the validated response or reject with a `StudioError` whose `code` is
 * stable. (Across contextBridge only an Error's message survives, so the message is prefixed with
 * `[CODE] `; use `studioErrorCode(e)` to read it back on either side.)
 */
import type { AttentionMaps } from './ipc/attention.js';
import type { JobInfo, JobProgress, JobResult } from './ipc/jobs.js';
import type { LibraryItem } from './ipc/library.js';
import type { ModelInfo } from './ipc/models.js';
import type { Notice } from './ipc/notices.js';
import type { StudioEvent } from './ipc/events.js';
import type { LibraryPage, ParamsOf, RequestOf, RequestType, ResponseOf, StatusResult, TokenizeResult } from './ipc/requests.js';
import type { Settings, SettingsPatch } from './ipc/settings.js';

/**
 * How a method's arguments become its request: `params` (one object, the request without its
 * `type`), `params?` (the same, optional), or the request's fields as positional arguments, in
 * this order (a trailing field the schema makes optional is an optional argument).
 */
export type ArgumentForm<T extends RequestType> = 'params' | 'params?' | readonly (keyof ParamsOf<T>)[];

/** The StudioApi method of each request type. */
export const REQUEST_METHODS = {
  /** Queue a generation; follow it with job events for the returned jobId. */
  generate: 'params',
  /** Queue an inversion (one image; call once per image for a queue). */
  invert: 'params',
  /** Queue a segmentation: per-word cross-attention maps of an image (the result's `maps`). */
  segment: 'params',
  /** Queue an edit by prompt of a library image or an uploaded PNG with parameters (the result's before/after, mask and report). */
  edit: 'params',
  /** Cancel a queued or running job; a running inversion ends with `job.cancelled` carrying its best result. */
  cancel: ['jobId'],
  listJobs: [],
  listLibrary: 'params?',
  getLibraryItem: ['id'],
  deleteLibraryItem: ['id'],
  listModels: [],
  /** Queue a model download (resumable; progress as job events with bytes/totalBytes). */
  downloadModel: ['id'],
  /** Queue the import of a model folder on the engine's machine. */
  importModel: ['path'],
  getSettings: [],
  setSettings: ['patch'],
  /** Live token counter: tokens of `text` under the model set's CLIP tokenizer, and what is dropped. */
  tokenize: ['text', 'modelSet'],
  getStatus: [],
  /** Write the full-resolution masks of maps a job returned into a folder on the engine's machine. */
  exportSegmentation: 'params',
  /** Notices still relevant (damaged settings file moved aside, library index rebuilt...), oldest first. */
  listNotices: [],
  /** The user has read a notice: forget it (every client gets `notice.dismissed`). */
  dismissNotice: ['id'],
  /** Queue an evaluation (or continue one: `runId`); the result is its report as data (tables, figures). */
  eval: 'params',
  /** Past evaluations of this library, newest first. */
  listEvaluations: [],
  /** A past evaluation's report (also while it runs: what is done so far). */
  getEvaluation: ['id'],
  /** Which inversion methods can run with a model set (default: the settings'), and why the others cannot. */
  listMethods: ['modelSet'],
  /** Queue a fusion of two or more library images or prompts (or a grid of modes × weights); the result is saved in the Library. */
  fuse: 'params',
  /** Queue the start of an evolution session (saved under the library's evolution/ folder); the result is the session. */
  createEvolution: 'params',
  /** Queue the next generation of a session, bred from `picks` (or by its fitness). */
  breedEvolution: ['session', 'picks'],
  /** Queue the re-inversion of an individual's image; its prompt joins the head generation. */
  reinvertEvolution: ['session', 'id'],
  /** A saved session (to resume it). */
  openEvolution: ['session'],
  /** Set the words an individual's children must keep. */
  lockEvolution: ['session', 'id', 'words'],
  /** Continue from an ancestor: its generation becomes the head again (a branch). */
  branchEvolution: ['session', 'from'],
  /** Copy a session into a folder on the engine's machine. */
  exportEvolution: ['session', 'dir'],
  /** The sessions of this library, newest first (damaged ones with their problem). */
  listEvolutions: [],
} as const satisfies { [T in RequestType]: ArgumentForm<T> };

type Positional<T extends RequestType, K extends readonly (keyof ParamsOf<T>)[]> = { -readonly [I in keyof K]: ParamsOf<T>[K[I]] };
/** Trailing arguments that may be undefined become optional. */
type OptionalTail<A extends readonly unknown[]> = A extends readonly [...infer H, infer L]
  ? undefined extends L
    ? [...OptionalTail<H>, L?]
    : A
  : A;
type ArgsOf<T extends RequestType, F> = F extends 'params'
  ? [params: ParamsOf<T>]
  : F extends 'params?'
    ? [params?: ParamsOf<T>]
    : F extends readonly (keyof ParamsOf<T>)[]
      ? OptionalTail<Positional<T, F>>
      : never;

/** One method per request type, typed from its request and response schemas. */
export type RequestMethods = {
  [T in keyof typeof REQUEST_METHODS]: (...args: ArgsOf<T, (typeof REQUEST_METHODS)[T]>) => Promise<ResponseOf<T>>;
};

export interface JobAccepted {
  jobId: string;
}

export interface StudioApi extends RequestMethods {
  /** Which shell hosts the UI. */
  readonly transport: 'electron' | 'web';
  /** Generic request (the methods are shorthands for it). */
  request<T extends RequestType>(request: RequestOf<T>): Promise<ResponseOf<T>>;
  /** Subscribe to all events; returns the unsubscribe function. */
  onEvent(listener: (event: StudioEvent) => void): () => void;
  /** URL for a library image file (`item.file`, `candidate.file`), usable as an <img> src. */
  imageUrl(file: string): string;
}

/** Every member of StudioApi: what the preload exposes, and nothing else. */
export const STUDIO_API_KEYS = ['transport', 'request', 'onEvent', 'imageUrl', ...(Object.keys(REQUEST_METHODS) as RequestType[])] as const;

/** The request a method call stands for. */
export function requestFor<T extends RequestType>(type: T, args: readonly unknown[]): RequestOf<T> {
  const form = REQUEST_METHODS[type] as 'params' | 'params?' | readonly string[];
  if (form === 'params' || form === 'params?') return { type, ...((args[0] as object | undefined) ?? {}) } as RequestOf<T>;
  const fields: Record<string, unknown> = { type };
  form.forEach((key, i) => {
    if (args[i] !== undefined) fields[key] = args[i];
  });
  return fields as RequestOf<T>;
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
  AttentionMaps,
  Notice,
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
