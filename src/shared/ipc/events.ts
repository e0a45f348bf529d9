/**
 * Events the engine host pushes to every connected client: job lifecycle, engine status,
 * library/settings changes, notices, and `error` for messages it rejected.
 */
import { z } from 'zod';
import { IdSchema, TextSchema } from './common.js';
import { JobKindSchema, JobProgressSchema, JobResultSchema } from './jobs.js';
import { LibraryItemSchema } from './library.js';
import { NoticeSchema } from './notices.js';
import { EngineStateSchema } from './requests.js';
import { SettingsSchema } from './settings.js';

export const JobQueuedEventSchema = z.strictObject({
  type: z.literal('job.queued'),
  jobId: IdSchema,
  kind: JobKindSchema,
  label: TextSchema,
  /** Jobs ahead of this one (0 = next). */
  position: z.number().int().min(0),
});
export const JobStartedEventSchema = z.strictObject({ type: z.literal('job.started'), jobId: IdSchema, kind: JobKindSchema });
export const JobProgressEventSchema = z.strictObject({
  type: z.literal('job.progress'),
  jobId: IdSchema,
  progress: JobProgressSchema,
});
export const JobResultEventSchema = z.strictObject({ type: z.literal('job.result'), jobId: IdSchema, result: JobResultSchema });
/**
 * `code` is an EngineErrorCode (src/main/engine/errors.ts) or one of the host's:
 * ENGINE_CRASHED (the engine process died during this job), INTERNAL, NOT_AVAILABLE (engine part missing).
 */
export const JobFailedEventSchema = z.strictObject({
  type: z.literal('job.failed'),
  jobId: IdSchema,
  code: z.string().min(1).max(64),
  message: TextSchema,
});
/** `partial` is the best result so far (e.g. an inversion cancelled mid-run), when there is one. */
export const JobCancelledEventSchema = z.strictObject({
  type: z.literal('job.cancelled'),
  jobId: IdSchema,
  partial: JobResultSchema.optional(),
});

export const EngineStatusEventSchema = z.strictObject({
  type: z.literal('engine.status'),
  state: EngineStateSchema,
  restarts: z.number().int().min(0),
  message: TextSchema.optional(),
});

export const LibraryChangedEventSchema = z.strictObject({
  type: z.literal('library.changed'),
  change: z.enum(['added', 'removed']),
  item: LibraryItemSchema,
});
export const SettingsChangedEventSchema = z.strictObject({ type: z.literal('settings.changed'), settings: SettingsSchema });

/**
 * Something the user must be told (a damaged settings file moved aside, a library index rebuilt),
 * see notices.ts. Sent when it is raised, and again to each client that connects while it is
 * still relevant (not dismissed); clients deduplicate by `id`.
 */
export const NoticeEventSchema = z.strictObject({ type: z.literal('notice'), ...NoticeSchema.shape });
/** A notice was dismissed (by any client) or is no longer relevant: every client drops it. */
export const NoticeDismissedEventSchema = z.strictObject({ type: z.literal('notice.dismissed'), id: IdSchema });

/**
 * A message was rejected. code: INVALID_MESSAGE (not JSON / fails the schema), MESSAGE_TOO_LARGE,
 * UNKNOWN_REQUEST (unknown `type`), FORBIDDEN (wrong sender). `requestId` is set when it could be read.
 */
export const ErrorEventSchema = z.strictObject({
  type: z.literal('error'),
  code: z.enum(['INVALID_MESSAGE', 'MESSAGE_TOO_LARGE', 'UNKNOWN_REQUEST', 'FORBIDDEN']),
  message: TextSchema,
  requestId: z.string().max(64).nullable(),
});

export const StudioEventSchema = z.discriminatedUnion('type', [
  JobQueuedEventSchema,
  JobStartedEventSchema,
  JobProgressEventSchema,
  JobResultEventSchema,
  JobFailedEventSchema,
  JobCancelledEventSchema,
  EngineStatusEventSchema,
  LibraryChangedEventSchema,
  SettingsChangedEventSchema,
  NoticeEventSchema,
  NoticeDismissedEventSchema,
  ErrorEventSchema,
]);
export type StudioEvent = z.infer<typeof StudioEventSchema>;
export type StudioEventType = StudioEvent['type'];
export type EventOf<T extends StudioEventType> = Extract<StudioEvent, { type: T }>;
export type JobEvent = EventOf<'job.queued' | 'job.started' | 'job.progress' | 'job.result' | 'job.failed' | 'job.cancelled'>;
export type ErrorEvent = EventOf<'error'>;
