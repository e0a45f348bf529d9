/**
 * A loopback HTTP server for downloader tests: serves in-memory files with Range support and can
 * misbehave on purpose (drop the connection, corrupt bytes, hang, ignore Range, redirect, fail).
 * Test-only; listens on 127.0.0.1 with a random port.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'ok' }
  /** Send the headers for the full response, then only `after` bytes, then destroy the socket. */
  | { kind: 'drop'; after: number; times?: number }
  /** Flip one byte at `at` in every response. */
  | { kind: 'corrupt'; at: number }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Send headers and `after` bytes, then stall forever. */
  | { kind: 'stall'; after: number }
  /** Answer 200 with the whole body even when a Range was asked. */
  | { kind: 'ignore-range' }
  /** Send in chunks of `chunk` bytes every `delayMs`. */
  | { kind: 'slow'; chunk: number; delayMs: number }
  | { kind: 'status'; status: number; times?: number }
  | { kind: 'redirect'; to: string; status?: number };

export interface RequestLog {
  path: string;
  range?: string;
  authorization?: string;
  viaProxy: boolean;
}

export interface TestServer {
  url: string;
  port: number;
  files: Map<string, Buffer>;
  behaviours: Map<string, Behaviour>;
  log: RequestLog[];
  /** Forget files, behaviours, the log and per-path request counts. */
  reset(): void;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const files = new Map<string, Buffer>();
  const behaviours = new Map<string, Behaviour>();
  const log: RequestLog[] = [];
  const sockets = new Set<net.Socket>();
  const counts = new Map<string, number>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    log.push({ path: p, range: req.headers.range, authorization: req.headers.authorization, viaProxy: false });
    const n = (counts.get(p) ?? 0) + 1;
    counts.set(p, n);
    const b = behaviours.get(p) ?? { kind: 'ok' };

    if (b.kind === 'hang') return;
    if (b.kind === 'status' && (b.times === undefined || n <= b.times)) {
      res.writeHead(b.status, { 'content-type': 'text/plain' });
      res.end(`status ${b.status}`);
      return;
    }
    if (b.kind === 'redirect') {
      res.writeHead(b.status ?? 302, { location: b.to });
      res.end();
      return;
    }
    const body = files.get(p);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Entry not found');
      return;
    }
    let data = body;
    if (b.kind === 'corrupt') {
      data = Buffer.from(body);
      data[b.at] = data[b.at]! ^ 0xff;
    }
    let start = 0;
    let status = 200;
    const range = req.headers.range;
    const headers: http.OutgoingHttpHeaders = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (range && b.kind !== 'ignore-range') {
      const m = /^bytes=(\d+)-$/.exec(range);
      if (!m) {
        res.writeHead(400);
        res.end();
        return;
      }
      start = Number(m[1]);
      if (start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    }
    const slice = data.subarray(start);
    headers['content-length'] = String(slice.length);
    res.writeHead(status, headers);
    if (b.kind === 'drop' && (b.times === undefined || n <= b.times)) {
      res.write(slice.subarray(0, b.after), () => {
        res.socket?.destroy();
      });
      return;
    }
    if (b.kind === 'stall') {
      res.write(slice.subarray(0, b.after));
      return;
    }
    if (b.kind === 'slow') {
      let off = 0;
      const tick = () => {
        if (res.destroyed || res.socket?.destroyed) return;
        if (off >= slice.length) {
          res.end();
          return;
        }
        res.write(slice.subarray(off, off + b.chunk));
        off += b.chunk;
        setTimeout(tick, b.delayMs);
      };
      tick();
      return;
    }
    res.end(slice);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    files,
    behaviours,
    log,
    reset() {
      files.clear();
      behaviours.clear();
      log.length = 0;
      counts.clear();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A minimal CONNECT proxy on 127.0.0.1 that only tunnels to loopback; counts tunnels. */
export async function startTestProxy(): Promise<{ url: string; connects: string[]; close(): Promise<void> }> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1' && host !== 'localhost') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    sockets.add(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
