/**
 * Wire envelopes, identical over every transport (Electron IPC, the utility-process MessagePort,
 * the engine worker's IPC channel, the web bridge's WebSocket):
 *
 *   client -> host   { kind: 'request', id, request }
 *   host -> client   { kind: 'response', id, ok: true, result } | { kind: 'response', id, ok: false, error }
 *                    { kind: 'event', event }
 *
 * `parseClientMessage` is the single gate for inbound requests: size first, then JSON, then schema.
 */
import { z } from 'zod';
import { ErrorInfoSchema } from './common.js';
import { StudioEventSchema, type ErrorEvent, type StudioEvent } from './events.js';
import { MAX_MESSAGE_CHARS } from './limits.js';
import { REQUEST_TYPES, RequestSchema, type Request } from './requests.js';

export const RequestIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);

export const ClientMessageSchema = z.strictObject({
  kind: z.literal('request'),
  id: RequestIdSchema,
  request: RequestSchema,
});
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export const ResponseMessageSchema = z.union([
  z.strictObject({ kind: z.literal('response'), id: RequestIdSchema, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ kind: z.literal('response'), id: RequestIdSchema, ok: z.literal(false), error: ErrorInfoSchema }),
]);
export type ResponseMessage = z.infer<typeof ResponseMessageSchema>;
export const EventMessageSchema = z.strictObject({ kind: z.literal('event'), event: StudioEventSchema });
export type EventMessage = z.infer<typeof EventMessageSchema>;
export const ServerMessageSchema = z.union([ResponseMessageSchema, EventMessageSchema]);
export type ServerMessage = ResponseMessage | EventMessage;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ErrorEvent };

function rejectEvent(code: ErrorEvent['code'], message: string, requestId: string | null): ErrorEvent {
  return { type: 'error', code, message: message.slice(0, 4000), requestId };
}

/** Rough serialized size of a structured-clone message, without serializing huge strings twice. */
function approxSize(value: unknown, budget: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length && size <= budget) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (v === null || typeof v !== 'object') size += 8;
    else if (Array.isArray(v)) {
      size += 2 + v.length;
      if (v.length > budget) return budget + 1;
      for (const x of v) stack.push(x);
    } else {
      const entries = Object.entries(v as Record<string, unknown>);
      for (const [k, x] of entries) {
        size += k.length + 4;
        stack.push(x);
      }
    }
  }
  return size;
}

/**
 * Validate an inbound client message. `raw` is a string (WebSocket text frame) or an already
 * structured-cloned value (Electron IPC). Returns the request or an `error` event; never throws.
 */
export function parseClientMessage(raw: unknown, maxChars = MAX_MESSAGE_CHARS): ParseResult<ClientMessage> {
  let value: unknown = raw;
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw);
    if (text.length > maxChars)
      return {
        ok: false,
        error: rejectEvent('MESSAGE_TOO_LARGE', `message of ${text.length} characters exceeds the limit of ${maxChars}`, null),
      };
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, error: rejectEvent('INVALID_MESSAGE', 'message is not valid JSON', null) };
    }
  } else if (approxSize(raw, maxChars) > maxChars) {
    return { ok: false, error: rejectEvent('MESSAGE_TOO_LARGE', `message exceeds the limit of ${maxChars} characters`, null) };
  }
  const id = readId(value);
  const parsed = ClientMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const type = readType(value);
  if (type !== undefined && !(REQUEST_TYPES as string[]).includes(type)) {
    return { ok: false, error: rejectEvent('UNKNOWN_REQUEST', `unknown request type '${type.slice(0, 64)}'`, id) };
  }
  // Only size limits on strings and arrays count as "too large"; a number out of range is just invalid.
  const tooLarge = parsed.error.issues.some((i) => i.code === 'too_big' && (i.origin === 'string' || i.origin === 'array'));
  return {
    ok: false,
    error: rejectEvent(tooLarge ? 'MESSAGE_TOO_LARGE' : 'INVALID_MESSAGE', formatIssues(parsed.error), id),
  };
}

/** Validate a host->client message (clients check what they receive, too). */
export function parseServerMessage(raw: unknown): ServerMessage | undefined {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  const parsed = ServerMessageSchema.safeParse(value);
  return parsed.success ? (parsed.data as ServerMessage) : undefined;
}

/** Validate an event before it is sent out; an invalid event is a bug in the host. */
export function checkEvent(event: StudioEvent): StudioEvent {
  return StudioEventSchema.parse(event);
}

export function validateRequest(value: unknown): ParseResult<Request> {
  const parsed = RequestSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: rejectEvent('INVALID_MESSAGE', formatIssues(parsed.error), null) };
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`)
    .join('; ')
    .slice(0, 2000);
}

function readId(v: unknown): string | null {
  if (v && typeof v === 'object' && 'id' in v) {
    const id = (v as { id: unknown }).id;
    if (typeof id === 'string' && RequestIdSchema.safeParse(id).success) return id;
  }
  return null;
}

function readType(v: unknown): string | undefined {
  if (v && typeof v === 'object' && 'request' in v) {
    const r = (v as { request: unknown }).request;
    if (r && typeof r === 'object' && 'type' in r && typeof (r as { type: unknown }).type === 'string') return (r as { type: string }).type;
  }
  return undefined;
}
