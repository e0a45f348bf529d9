/**
 * Notices: what the user must be told that is not the answer to a request, e.g. "the settings file
 * could not be read; it was moved to config.json.corrupt-… and defaults are in use", "the library
 * index was damaged and was rebuilt from the images". Raised by the settings store and the library
 * (src/main/host/notices.ts), kept by the engine host until the user dismisses them (or, for a
 * library's notices, until another library folder is in use), so a client that connects later
 * still gets them: as `notice` events on connecting, and from `listNotices`.
 */
import { z } from 'zod';
import { IdSchema, PathSchema, TextSchema, TimestampSchema } from './common.js';

export const NoticeSourceSchema = z.enum(['settings', 'library']);
export const NoticeLevelSchema = z.enum(['warning', 'error']);

export const NoticeSchema = z.strictObject({
  /** Stable id (dismissNotice takes it). */
  id: IdSchema,
  source: NoticeSourceSchema,
  level: NoticeLevelSchema,
  /** What happened and what the user can do, in one or two sentences. */
  message: TextSchema,
  /** The file concerned. */
  file: PathSchema.optional(),
  /** Where a damaged file was moved (it is kept, never deleted). */
  movedTo: PathSchema.optional(),
  /** ISO time it was raised. */
  at: TimestampSchema,
});
export type Notice = z.infer<typeof NoticeSchema>;

/** Notices a host keeps at most (the oldest go first). */
export const MAX_NOTICES = 50;
