/**
 * Web bridge: serves the built renderer and the studio API over HTTP + WebSocket on 127.0.0.1, so
 * the real UI and engine run in a browser (`inversion-studio serve`).
 *
 * Security model: loopback only; the Host header must name the loopback address (DNS rebinding);
 * a per-launch random token is required on every request, either as `?token=` or as the HttpOnly
 * SameSite=Strict cookie (`studio_token_<port>`) set when the tokenised URL is first opened; WebSocket upgrades must also
 * come from our own origin; library images are served only by plain file name (or as an evolution
 * session's image, resolveLibraryFile) from the library folder; HTML is sent with a strict Content-Security-Policy.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { WEB_HEALTH_PATH, WEB_LIBRARY_PREFIX, WEB_SOCKET_PATH } from '../../shared/ipc/channels.js';
import { MAX_MESSAGE_CHARS } from '../../shared/ipc/limits.js';
import type { EngineHost } from './engine-host.js';
import { resolveLibraryFile } from './library.js';
import { rendererContentSecurityPolicy } from './csp.js';

export const LOOPBACK = '127.0.0.1';
/** Prefix of the token cookie; the name carries the port (tokenCookieName). */
export const TOKEN_COOKIE = 'studio_token';

/**
 * `studio_token_<port>`: cookies are not port-scoped, so a browser sends every 127.0.0.1 cookie to
 * every local service; with the port in the name two bridges keep their own cookie and no other
 * service's cookie is mistaken for ours.
 */
export function tokenCookieName(port: number): string {
  return `${TOKEN_COOKIE}_${port}`;
}

export interface WebBridgeOptions {
  host: EngineHost;
  /** Folder with the built renderer (index.html + assets), e.g. out/web. */
  webRoot: string;
  /** 0 = any free port. */
  port?: number;
  /** Fixed token (tests); default: 32 random bytes. */
  token?: string;
}

export interface WebBridge {
  readonly port: number;
  readonly token: string;
  /** URL to open, with the token. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** CSP for the renderer served by the bridge: it may only talk to this bridge's websocket. */
export function contentSecurityPolicy(port: number): string {
  return rendererContentSecurityPolicy({ connect: [`ws://${LOOPBACK}:${port}`, `ws://localhost:${port}`] });
}

function tokensEqual(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

const FALLBACK_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Inversion Studio</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Inversion Studio</h1><p>The user interface has not been built yet. Run <code>npm run build:web</code>
in the project folder, then reload this page. The engine API is running.</p></body></html>`;

export async function startWebBridge(opts: WebBridgeOptions): Promise<WebBridge> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const webRoot = path.resolve(opts.webRoot);
  let port = opts.port ?? 0;

  const allowedHosts = () => new Set([`${LOOPBACK}:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://${LOOPBACK}:${port}`, `http://localhost:${port}`]);

  const baseHeaders = (res: ServerResponse) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
  };

  const deny = (res: ServerResponse, status: number, message: string) => {
    baseHeaders(res);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`${message}\n`);
  };

  /** 'query' when the token came in the URL (then we set the cookie), 'cookie', or undefined. */
  const authorise = (req: IncomingMessage, url: URL): 'query' | 'cookie' | undefined => {
    if (tokensEqual(url.searchParams.get('token') ?? undefined, token)) return 'query';
    if (tokensEqual(cookieValue(req, tokenCookieName(port)), token)) return 'cookie';
    return undefined;
  };

  const sendFile = async (req: IncomingMessage, res: ServerResponse, file: string, cache: string, extra: Record<string, string> = {}) => {
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) return deny(res, 404, 'not found');
      size = st.size;
    } catch {
      return deny(res, 404, 'not found');
    }
    baseHeaders(res);
    res.writeHead(200, {
      'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(size),
      'Cache-Control': cache,
      ...extra,
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const sendIndex = async (req: IncomingMessage, res: ServerResponse) => {
    const index = path.join(webRoot, 'index.html');
    const html = existsSync(index) ? await readFile(index, 'utf8') : FALLBACK_PAGE;
    baseHeaders(res);
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': contentSecurityPolicy(port),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : html);
  };

  const server = createServer((req, res) => {
    void (async () => {
      if (!req.headers.host || !allowedHosts().has(req.headers.host)) return deny(res, 421, 'wrong host');
      if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
      let url: URL;
      try {
        url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      } catch {
        return deny(res, 400, 'bad request');
      }
      const auth = authorise(req, url);
      if (!auth) return deny(res, 401, 'missing or wrong token: open the URL printed by `inversion-studio serve`');
      if (auth === 'query') {
        res.setHeader('Set-Cookie', `${tokenCookieName(port)}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`);
      }
      let pathname: string;
      try {
        pathname = decodeURIComponent(url.pathname);
      } catch {
        return deny(res, 400, 'bad path');
      }
      if (pathname.includes('\0')) return deny(res, 400, 'bad path');

      if (pathname === WEB_HEALTH_PATH) {
        baseHeaders(res);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        return res.end(JSON.stringify({ ok: true, engine: opts.host.engineState }));
      }
      if (pathname.startsWith(WEB_LIBRARY_PREFIX)) {
        const name = pathname.slice(WEB_LIBRARY_PREFIX.length);
        const file = resolveLibraryFile(opts.host.libraryDir, name);
        if (!file) return deny(res, 403, 'forbidden');
        return sendFile(req, res, file, 'private, max-age=3600');
      }
      if (pathname === '/' || pathname === '/index.html') return sendIndex(req, res);
      // Static renderer files, confined to webRoot.
      const file = path.resolve(webRoot, `.${pathname}`);
      if (file !== webRoot && !file.startsWith(webRoot + path.sep)) return deny(res, 403, 'forbidden');
      if (path.basename(file).startsWith('.')) return deny(res, 403, 'forbidden');
      if (existsSync(file))
        return sendFile(req, res, file, pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      // Client-side routes (no extension) get the app.
      if (!path.extname(pathname)) return sendIndex(req, res);
      return deny(res, 404, 'not found');
    })().catch((e) => {
      console.error('web bridge:', e);
      if (!res.headersSent) deny(res, 500, 'internal error');
      else res.destroy();
    });
  });

  // ws enforces a hard frame cap; the protocol limit (MAX_MESSAGE_CHARS) is checked per message
  // so an oversized request gets an error event instead of a dropped connection.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_CHARS + 1024 * 1024, perMessageDeflate: false });

  server.on('upgrade', (req, socket, head) => {
    const reject = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!req.headers.host || !allowedHosts().has(req.headers.host)) return reject(421, 'Misdirected Request');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) return reject(403, 'Forbidden');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    } catch {
      return reject(400, 'Bad Request');
    }
    if (url.pathname !== WEB_SOCKET_PATH) return reject(404, 'Not Found');
    if (!authorise(req, url)) return reject(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const conn = opts.host.connect((msg) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    });
    ws.on('message', (data, isBinary) => {
      conn.handle(isBinary ? new Uint8Array(data as Buffer) : (data as Buffer).toString('utf8'));
    });
    ws.on('close', () => conn.close());
    ws.on('error', () => conn.close());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    token,
    url: `http://${LOOPBACK}:${port}/?token=${token}`,
    server,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
