/**
 * Client side of the protocol, shared by the Electron preload and the browser: builds a StudioApi
 * over any message transport. Browser/Node neutral (no DOM, no Node imports).
 */
import { REQUEST_METHODS, requestFor, StudioError, type RequestMethods, type StudioApi } from './api.js';
import type { StudioEvent } from './ipc/events.js';
import { parseServerMessage, type ClientMessage, type ServerMessage } from './ipc/protocol.js';
import { ResponseSchemas, type RequestOf, type RequestType, type ResponseOf } from './ipc/requests.js';

export interface MessageTransport {
  readonly kind: 'electron' | 'web';
  /** Send one client message; throw if the channel is closed. */
  post(message: ClientMessage): void;
  /** Receive every host message (responses and events); returns an unsubscribe function. */
  subscribe(handler: (message: unknown) => void): () => void;
  /** Map a library file name to a URL. */
  imageUrl(file: string): string;
}

export interface StudioClient extends StudioApi {
  /** Reject every pending request (the channel closed); the transport may reconnect later. */
  failPending(code: string, message: string): void;
  /** Deliver a locally generated event (e.g. connection lost) to listeners. */
  emitLocal(event: StudioEvent): void;
}

let counter = 0;
function nextId(): string {
  counter = (counter + 1) % 1e9;
  return `r${Date.now().toString(36)}-${counter.toString(36)}`;
}

export function createStudioApi(transport: MessageTransport): StudioClient {
  const pending = new Map<string, { type: RequestType; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(e: StudioEvent) => void>();

  const emit = (event: StudioEvent) => {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch (e) {
        console.error('studio event listener failed', e);
      }
    }
  };

  transport.subscribe((raw) => {
    const msg: ServerMessage | undefined = parseServerMessage(raw);
    if (!msg) {
      console.warn('studio: dropped an invalid message from the host');
      return;
    }
    if (msg.kind === 'event') {
      emit(msg.event);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (!msg.ok) {
      p.reject(new StudioError(msg.error.code, msg.error.message));
      return;
    }
    const parsed = ResponseSchemas[p.type].safeParse(msg.result);
    if (parsed.success) p.resolve(parsed.data);
    else p.reject(new StudioError('INVALID_RESPONSE', `host sent an invalid ${p.type} response`));
  });

  function request<T extends RequestType>(req: RequestOf<T>): Promise<ResponseOf<T>> {
    return new Promise((resolve, reject) => {
      const id = nextId();
      pending.set(id, { type: req.type, resolve: resolve as (v: unknown) => void, reject });
      try {
        transport.post({ kind: 'request', id, request: req });
      } catch (e) {
        pending.delete(id);
        reject(new StudioError('DISCONNECTED', e instanceof Error ? e.message : String(e)));
      }
    });
  }

  // One method per request type, from REQUEST_METHODS (api.ts).
  const methods = Object.fromEntries(
    (Object.keys(REQUEST_METHODS) as RequestType[]).map((type) => [type, (...args: unknown[]) => request(requestFor(type, args))]),
  ) as unknown as RequestMethods;

  return {
    ...methods,
    transport: transport.kind,
    request,
    onEvent(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    imageUrl: (file) => transport.imageUrl(file),
    failPending(code, message) {
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new StudioError(code, message));
      }
    },
    emitLocal: emit,
  };
}
