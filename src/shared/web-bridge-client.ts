/**
 * Browser side of the web bridge (`inversion-studio serve`): a StudioApi over a WebSocket to
 * WEB_SOCKET_PATH (`/api/ws`) on the page's own origin. The per-launch token comes from the page URL (`?token=` or
 * `#token=`) and is kept in sessionStorage so reloads keep working; the server also sets an
 * HttpOnly cookie on the first authorised page load, which covers images and the WebSocket.
 *
 * Usage in the renderer:
 *   const api = window.studio ?? (await connectWebBridge());
 */
import type { StudioApi } from './api.js';
import { createStudioApi, type MessageTransport } from './client.js';
import { WEB_LIBRARY_PREFIX, WEB_SOCKET_PATH } from './ipc/channels.js';
import type { ClientMessage } from './ipc/protocol.js';

/** Minimal WebSocket surface (the browser's, or `ws` in Node tests). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (ev: { data?: unknown }) => void): void;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface WebBridgeOptions {
  /** Origin of the bridge, e.g. `http://127.0.0.1:5170`; default: the page's origin. */
  origin?: string;
  /** Per-launch token; default: read from the page URL or sessionStorage. */
  token?: string;
  /** WebSocket constructor; default: globalThis.WebSocket. */
  WebSocket?: WebSocketCtor;
  /** Reconnect after the connection drops (default true). */
  reconnect?: boolean;
}

export const TOKEN_STORAGE_KEY = 'inversion-studio.token';

/** Read the token from `?token=`/`#token=` of the current page, else from sessionStorage. */
export function tokenFromLocation(): string | undefined {
  const g = globalThis as { location?: { search: string; hash: string }; sessionStorage?: Storage };
  const loc = g.location;
  let token: string | undefined;
  if (loc) {
    token = new URLSearchParams(loc.search).get('token') ?? new URLSearchParams(loc.hash.replace(/^#/, '')).get('token') ?? undefined;
  }
  try {
    if (token) g.sessionStorage?.setItem(TOKEN_STORAGE_KEY, token);
    else token = g.sessionStorage?.getItem(TOKEN_STORAGE_KEY) ?? undefined;
  } catch {
    // storage disabled: the cookie still authenticates
  }
  return token;
}

/** Connect to the web bridge; resolves once the WebSocket is open. */
export async function connectWebBridge(options: WebBridgeOptions = {}): Promise<StudioApi> {
  const g = globalThis as { location?: { origin: string }; WebSocket?: WebSocketCtor };
  const origin = options.origin ?? g.location?.origin;
  if (!origin) throw new Error('connectWebBridge: no origin (pass options.origin)');
  const WS = options.WebSocket ?? g.WebSocket;
  if (!WS) throw new Error('connectWebBridge: no WebSocket implementation');
  const token = options.token ?? tokenFromLocation();
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  const wsUrl = `${origin.replace(/^http/, 'ws')}${WEB_SOCKET_PATH}${q}`;

  const handlers = new Set<(m: unknown) => void>();
  let socket: WebSocketLike | undefined;
  let retry = 0;
  let closedByUser = false;

  const transport: MessageTransport = {
    kind: 'web',
    post(message: ClientMessage) {
      if (!socket || socket.readyState !== 1) throw new Error('not connected to the Inversion Studio server');
      socket.send(JSON.stringify(message));
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    imageUrl: (file) => `${origin}${WEB_LIBRARY_PREFIX}${encodeURIComponent(file)}${q}`,
  };
  const client = createStudioApi(transport);

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const ws = new WS(wsUrl);
      let opened = false;
      ws.addEventListener('open', () => {
        opened = true;
        retry = 0;
        socket = ws;
        resolve();
      });
      ws.addEventListener('message', (ev) => {
        for (const h of [...handlers]) h(typeof ev.data === 'string' ? ev.data : String(ev.data));
      });
      ws.addEventListener('close', () => {
        if (socket === ws) socket = undefined;
        if (!opened) {
          reject(
            new Error('could not connect to the Inversion Studio server (is `inversion-studio serve` running, and is the token right?)'),
          );
          return;
        }
        client.failPending('DISCONNECTED', 'connection to the Inversion Studio server was lost');
        client.emitLocal({ type: 'engine.status', state: 'stopped', restarts: 0, message: 'connection to the server lost; reconnecting' });
        if (options.reconnect !== false && !closedByUser) scheduleReconnect();
      });
    });

  const scheduleReconnect = () => {
    const delay = Math.min(5000, 250 * 2 ** retry++);
    setTimeout(() => {
      open().catch(() => scheduleReconnect());
    }, delay);
  };

  await open();
  return Object.assign(client, {
    close() {
      closedByUser = true;
      socket?.close();
    },
  });
}
