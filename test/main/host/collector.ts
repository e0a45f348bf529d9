/** Test helper: records host messages and waits for events. */
import type { StudioEvent } from '../../../src/shared/ipc/events.js';
import type { ResponseMessage, ServerMessage } from '../../../src/shared/ipc/protocol.js';

export class Collector {
  readonly messages: ServerMessage[] = [];
  private waiters: Array<{ pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> = [];

  readonly send = (m: ServerMessage): void => {
    this.messages.push(m);
    for (const w of [...this.waiters]) {
      if (w.pred(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };

  events(type?: StudioEvent['type']): StudioEvent[] {
    return this.messages.flatMap((m) => (m.kind === 'event' && (!type || m.event.type === type) ? [m.event] : []));
  }

  jobEvents(jobId: string): StudioEvent[] {
    return this.events().filter((e) => 'jobId' in e && e.jobId === jobId);
  }

  /** Resolve with the first message (already received or future) matching `pred`. */
  wait(pred: (m: ServerMessage) => boolean, timeoutMs = 60_000): Promise<ServerMessage> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out waiting; last messages: ${JSON.stringify(this.messages.slice(-5)).slice(0, 2000)}`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  waitEvent<T extends StudioEvent['type']>(
    type: T,
    pred: (e: Extract<StudioEvent, { type: T }>) => boolean = () => true,
    timeoutMs?: number,
  ): Promise<Extract<StudioEvent, { type: T }>> {
    return this.wait(
      (m) => m.kind === 'event' && m.event.type === type && pred(m.event as Extract<StudioEvent, { type: T }>),
      timeoutMs,
    ).then((m) => (m as unknown as { event: Extract<StudioEvent, { type: T }> }).event);
  }

  waitResponse(id: string, timeoutMs?: number): Promise<ResponseMessage> {
    return this.wait((m) => m.kind === 'response' && m.id === id, timeoutMs) as Promise<ResponseMessage>;
  }
}
