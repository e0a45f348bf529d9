/**
 * Notices: things the user must be told that are not the answer to a request, e.g. "the settings
 * file was unreadable and was moved to config.json.corrupt-…", "the library index was damaged and
 * was rebuilt from the images". The settings store and the library raise them; the shells show
 * them (the CLI on stderr; the studio through EngineHost, see `EngineHost.notices` and
 * `noticeEvent`).
 *
 * The library lives in the engine worker, the settings store in the host; notices raised in the
 * worker reach the host as `{ kind: 'notice' }` worker messages (worker-protocol.ts).
 */

export interface StudioNotice {
  source: 'settings' | 'library';
  level: 'warning' | 'error';
  /** What happened and what the user can do, in one or two sentences. */
  message: string;
  /** The file concerned. */
  file?: string;
  /** Where a damaged file was moved (it is kept, never deleted). */
  movedTo?: string;
  /** ISO time it was raised. */
  at: string;
}

export type NoticeInput = Omit<StudioNotice, 'at'> & { at?: string };

export function makeNotice(n: NoticeInput): StudioNotice {
  return { ...n, message: n.message.slice(0, 4000), at: n.at ?? new Date().toISOString() };
}

/**
 * The event the UI needs (proposed for src/shared/ipc/events.ts, which this module cannot
 * change): `{ type: 'notice', source, level, message, file?, movedTo?, at }`.
 */
export function noticeEvent(n: StudioNotice): { type: 'notice' } & StudioNotice {
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
