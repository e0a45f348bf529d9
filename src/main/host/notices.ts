/**
 * Notices: things the user must be told that are not the answer to a request, e.g. "the settings
 * file was unreadable and was moved to config.json.corrupt-…", "the library index was damaged and
 * was rebuilt from the images". The settings store and the library raise them; the shells show
 * them (the CLI on stderr; the studio through EngineHost, which sends them to every client as
 * `notice` events, also to clients that connect later, until the user dismisses them).
 *
 * The library lives in the engine worker, the settings store in the host; notices raised in the
 * worker reach the host as `{ kind: 'notice' }` worker messages (worker-protocol.ts).
 */
import { randomBytes } from 'node:crypto';
import type { EventOf } from '../../shared/ipc/events.js';
import { MAX_MESSAGE_TEXT_CHARS, MAX_PATH_CHARS } from '../../shared/ipc/limits.js';
import type { Notice } from '../../shared/ipc/notices.js';

/** A notice as the IPC contract has it (src/shared/ipc/notices.ts). */
export type StudioNotice = Notice;

export type NoticeInput = Omit<StudioNotice, 'at' | 'id'> & { at?: string; id?: string };

/** A fresh notice id: `n-<time>-<random>`. */
function noticeId(): string {
  return `n-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

const path = (p: string | undefined): string | undefined => (p ? p.slice(0, MAX_PATH_CHARS) : undefined);

/** A notice ready for the wire: an id and a time, the text and paths within the contract's bounds. */
export function makeNotice(n: NoticeInput): StudioNotice {
  const file = path(n.file);
  const movedTo = path(n.movedTo);
  return {
    id: n.id && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(n.id) ? n.id : noticeId(),
    source: n.source,
    level: n.level,
    message: n.message.slice(0, MAX_MESSAGE_TEXT_CHARS),
    ...(file ? { file } : {}),
    ...(movedTo ? { movedTo } : {}),
    at: n.at ?? new Date().toISOString(),
  };
}

/** The `notice` event of a notice (src/shared/ipc/events.ts). */
export function noticeEvent(n: StudioNotice): EventOf<'notice'> {
  return { type: 'notice', ...n };
}

type Listener = (n: StudioNotice) => void;
const listeners = new Set<Listener>();
const recent: StudioNotice[] = [];
const KEEP = 50;

/** Raise a notice in this process: kept (the last 50) and passed to every listener. */
export function publishNotice(input: NoticeInput): StudioNotice {
  const n = makeNotice(input);
  recent.push(n);
  if (recent.length > KEEP) recent.splice(0, recent.length - KEEP);
  for (const l of listeners) {
    try {
      l(n);
    } catch (e) {
      console.error('notices: a listener failed', e);
    }
  }
  return n;
}

/** Listen for notices raised in this process; returns the unsubscribe function. */
export function onNotice(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Notices raised in this process so far (oldest first). */
export function recentNotices(): StudioNotice[] {
  return [...recent];
}

/** One line for a terminal: `warning: <message>`. */
export function formatNotice(n: StudioNotice): string {
  return `${n.level}: ${n.message}`;
}
