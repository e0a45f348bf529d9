/**
 * Web bridge end to end over real sockets, with the engine in a forked worker process. The worker
 * runs the fake engine (the test entry fake-engine-worker.ts): these tests are about the bridge,
 * the supervisor and crash handling, not about inference.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StudioApi } from '../../../src/shared/api.js';
import type { StudioEvent } from '../../../src/shared/ipc/events.js';
import { connectWebBridge, type WebSocketCtor } from '../../../src/shared/web-bridge-client.js';
import { EngineHost } from '../../../src/main/host/engine-host.js';
import { nodeWorkerLauncher } from '../../../src/main/host/node-worker.js';
import { FileSettingsStore } from '../../../src/main/host/settings-store.js';
import { startWebBridge, tokenCookieName, type WebBridge } from '../../../src/main/host/web-bridge.js';

const fakeWorkerEntry = fileURLToPath(new URL('./fake-engine-worker.ts', import.meta.url));

let bridge: WebBridge;
let host: EngineHost;
let api: StudioApi & { close(): void };
let base: string;
const events: StudioEvent[] = [];

function raw(
  pathname: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: bridge.port, path: pathname, headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function wsStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

function waitFor<T extends StudioEvent['type']>(
  type: T,
  pred: (e: Extract<StudioEvent, { type: T }>) => boolean = () => true,
  timeoutMs = 60_000,
) {
  return new Promise<Extract<StudioEvent, { type: T }>>((resolve, reject) => {
    const hit = events.find((e) => e.type === type && pred(e as Extract<StudioEvent, { type: T }>));
    if (hit) return resolve(hit as Extract<StudioEvent, { type: T }>);
    const t = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${type}; last events ${JSON.stringify(events.slice(-6)).slice(0, 1500)}`));
    }, timeoutMs);
    const off = api.onEvent((e) => {
      if (e.type === type && pred(e as Extract<StudioEvent, { type: T }>)) {
        clearTimeout(t);
        off();
        resolve(e as Extract<StudioEvent, { type: T }>);
      }
    });
  });
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bridge-'));
  const webRoot = path.join(dir, 'web');
  mkdirSync(path.join(webRoot, 'assets'), { recursive: true });
  writeFileSync(
    path.join(webRoot, 'index.html'),
    '<!doctype html><title>Inversion Studio</title><script type="module" src="./assets/app.js"></script>',
  );
  writeFileSync(path.join(webRoot, 'assets/app.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  host = new EngineHost({
    launch: nodeWorkerLauncher({ entry: fakeWorkerEntry, env: { INVERSION_STUDIO_FAKE_STEP_MS: '40' }, silent: true }),
    settings: new FileSettingsStore(path.join(dir, 'config.json')),
    libraryDir: () => path.join(dir, 'library'),
    transport: 'web',
  });
  await host.start();
  bridge = await startWebBridge({ host, webRoot, port: 0 });
  base = `http://127.0.0.1:${bridge.port}`;
  api = (await connectWebBridge({
    origin: base,
    token: bridge.token,
    WebSocket: WebSocket as unknown as WebSocketCtor,
    reconnect: false,
  })) as StudioApi & { close(): void };
  api.onEvent((e) => events.push(e));
});

afterAll(async () => {
  api?.close();
  await bridge?.close();
  await host?.stop();
});

describe('web bridge: access control', () => {
  it('listens on 127.0.0.1 only', async () => {
    const addr = bridge.server.address();
    expect(addr && typeof addr === 'object' && addr.address).toBe('127.0.0.1');
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) {
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        const req = http.get({ host: external.address, port: bridge.port, path: '/', timeout: 2000 }, () => resolve(undefined));
        req.on('error', (e) => resolve(e));
        req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      });
      expect(err?.code).toMatch(/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/);
    }
  });

  it('requires the per-launch token (query or the cookie it sets) on pages, files, images and the WebSocket', async () => {
    expect((await raw('/')).status).toBe(401);
    expect((await raw('/?token=wrong')).status).toBe(401);
    expect((await raw('/assets/app.js')).status).toBe(401);
    expect((await raw('/api/health')).status).toBe(401);
    const ok = await raw(`/?token=${bridge.token}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<title>Inversion Studio</title>');
    expect(ok.headers['content-security-policy']).toContain("script-src 'self'");
    expect(ok.headers['content-security-policy']).toContain("object-src 'none'");
    const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
    expect(String(ok.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await raw('/assets/app.js', { Cookie: cookie })).status).toBe(200);
    expect((await raw('/assets/app.js', { Cookie: 'studio_token=nope' })).status).toBe(401);
    // The cookie is named per port (cookies are not port-scoped: two bridges, or another local
    // service, would otherwise share or overwrite it); the bare name carries no authority.
    expect(cookie.startsWith(`studio_token_${bridge.port}=`)).toBe(true);
    expect(cookie.split('=')[0]).toBe(tokenCookieName(bridge.port));
    expect((await raw('/assets/app.js', { Cookie: `studio_token=${bridge.token}` })).status).toBe(401);
    expect((await raw('/assets/app.js', { Cookie: `studio_token_${bridge.port + 1}=${bridge.token}` })).status).toBe(401);
    expect((await raw('/assets/app.js', { Cookie: `other=1; ${cookie}` })).status).toBe(200);
    const ws = `ws://127.0.0.1:${bridge.port}/api/ws`;
    expect(await wsStatus(ws)).toBe(401);
    expect(await wsStatus(`${ws}?token=wrong`)).toBe(401);
    expect(await wsStatus(ws, { Cookie: cookie })).toBe(101);
    expect(await wsStatus(`${ws}?token=${bridge.token}`, { Origin: 'http://evil.example' })).toBe(403);
    expect(await wsStatus(`${ws}?token=${bridge.token}`, { Origin: base })).toBe(101);
  });

  it('rejects other Host names (DNS rebinding) and non-GET methods', async () => {
    expect((await raw(`/?token=${bridge.token}`, { Host: `evil.example:${bridge.port}` })).status).toBe(421);
    const post = await new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: bridge.port, path: `/?token=${bridge.token}`, method: 'POST' }, (res) =>
        resolve(res.statusCode ?? 0),
      );
      req.end('x');
    });
    expect(post).toBe(405);
  });

  it('serves library images by plain name only: traversal and other files are rejected', async () => {
    const t = `token=${bridge.token}`;
    for (const p of [
      `/library/..%2Fsecret.txt?${t}`,
      `/library/..%2F..%2Fsecret.txt?${t}`,
      `/library/%2e%2e%2fconfig.json?${t}`,
      `/library/index.json?${t}`,
      `/library/sub%2Fx.png?${t}`,
      `/library/..%5Csecret.txt?${t}`,
      `/library/%00.png?${t}`,
      `/..%2Fsecret.txt?${t}`,
      `/assets/..%2F..%2Fsecret.txt?${t}`,
    ]) {
      const r = await raw(p);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.body).not.toContain('secret');
    }
  });
});

describe('web bridge: API over the WebSocket', () => {
  it('runs a generation and serves its image', async () => {
    const { jobId } = await api.generate({ prompt: 'a red boat', steps: 3, width: 64, height: 64 });
    const done = await waitFor('job.result', (e) => e.jobId === jobId);
    expect(done.result.kind).toBe('generate');
    const item = (done.result as { item: { file: string } }).item;
    const res = await fetch(api.imageUrl(item.file));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect((await api.listLibrary()).items.map((i) => i.file)).toContain(item.file);
    const status = await api.getStatus();
    expect(status).toMatchObject({ engine: 'ready', transport: 'web', restarts: 0 });
  });

  it('settings persist through the host and are broadcast', async () => {
    const s = await api.setSettings({ provider: 'cpu', defaults: { generate: { steps: 2 } } });
    expect(s.provider).toBe('cpu');
    await waitFor('settings.changed', (e) => e.settings.provider === 'cpu');
    expect((await api.getSettings()).defaults.generate.steps).toBe(2);
    await expect(api.request({ type: 'setSettings', patch: { provider: 'quantum' } } as never)).rejects.toThrow(/INVALID_MESSAGE/);
  });

  it('IPC validation over the socket: malformed/oversized/unknown messages get an error event and change nothing', async () => {
    const before = await api.listLibrary();
    const jobsBefore = (await api.listJobs()).jobs.length;
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/api/ws?token=${bridge.token}`);
    const got: Array<{ kind: string; event?: { type: string; code?: string } }> = [];
    await new Promise<void>((r) => ws.on('open', () => r()));
    ws.on('message', (d) => got.push(JSON.parse(String(d))));
    const send = (x: unknown) => ws.send(typeof x === 'string' ? x : JSON.stringify(x));
    send('{"kind":"request"');
    send({ kind: 'request', id: 'a', request: { type: 'rm -rf' } });
    send({ kind: 'request', id: 'b', request: { type: 'generate', prompt: 'p', steps: 3, sneaky: true } });
    send({ kind: 'request', id: 'c', request: { type: 'generate', prompt: 'z'.repeat(10_000) } });
    send({ kind: 'request', id: 'd', request: { type: 'deleteLibraryItem', id: '../index' } });
    const deadline = Date.now() + 20_000;
    while (got.filter((m) => m.event?.type === 'error').length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    ws.close();
    expect(got.filter((m) => m.event?.type === 'error').map((m) => m.event!.code)).toEqual([
      'INVALID_MESSAGE',
      'UNKNOWN_REQUEST',
      'INVALID_MESSAGE',
      'MESSAGE_TOO_LARGE',
      'INVALID_MESSAGE',
    ]);
    expect(await api.listLibrary()).toEqual(before);
    expect((await api.listJobs()).jobs.length).toBe(jobsBefore);
  });
});

describe('web bridge: engine crash', () => {
  it('killing the engine worker during a job: crashed + failed, restart, queued job resubmitted, next job runs, library intact', async () => {
    const libraryBefore = await api.listLibrary();
    expect(libraryBefore.total).toBeGreaterThan(0);
    const png = await fetch(`${base}/library/${libraryBefore.items[0]!.file}?token=${bridge.token}`).then((r) => r.arrayBuffer());
    const image = `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
    const running = await api.invert({ image: { source: 'data', dataUrl: image, name: 'boat.png' }, iterations: 500 });
    const queued = await api.generate({ prompt: 'queued behind the crash', steps: 2 });
    await waitFor('job.progress', (e) => e.jobId === running.jobId && e.progress.step >= 2);
    const pid = host.workerPid!;
    process.kill(pid, 'SIGKILL');

    await waitFor('engine.status', (e) => e.state === 'crashed');
    const failed = await waitFor('job.failed', (e) => e.jobId === running.jobId);
    expect(failed.code).toBe('ENGINE_CRASHED');
    await waitFor('engine.status', (e) => e.state === 'restarted');
    expect(host.workerPid).not.toBe(pid);
    expect(host.restarts).toBe(1);
    // The job that was waiting in the queue runs in the new engine under the same id.
    const resubmitted = await waitFor('job.result', (e) => e.jobId === queued.jobId);
    expect(resubmitted.result.kind).toBe('generate');

    const next = await api.generate({ prompt: 'after the crash', steps: 2 });
    await waitFor('job.result', (e) => e.jobId === next.jobId);
    const after = await api.listLibrary();
    expect(after.total).toBe(libraryBefore.total + 2);
    for (const item of libraryBefore.items) expect(after.items.map((i) => i.id)).toContain(item.id);
    expect((await api.getStatus()).restarts).toBe(1);
  });
});
