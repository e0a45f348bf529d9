import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CancelledError, EngineError } from '../../../../src/main/engine/errors.js';
import { readInstallRecord } from '../../../../src/main/engine/models/cache.js';
import { ChecksumError, DownloadError, downloadFile, downloadModel, hubFileUrl, isOffline, type DownloadProgress } from '../../../../src/main/engine/models/downloader.js';
import { parseManifest } from '../../../../src/main/engine/models/manifest-schema.js';
import { startTestProxy, startTestServer, type TestServer } from './http-server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: TestServer;
let tmp: string;
const BIG = randomBytes(300_000);
const SMALL = Buffer.from('{"hello": "world"}\n');

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-dl-'));
  server.reset();
  server.files.set('/big.bin', BIG);
  server.files.set('/small.json', SMALL);
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('downloadFile', () => {
  it('downloads a whole file, verifies sha256 and size, reports progress ending at the total', async () => {
    const dest = path.join(tmp, 'sub', 'big.bin');
    const events: DownloadProgress[] = [];
    const r = await downloadFile(`${server.url}/big.bin`, dest, {
      expectedSha256: sha(BIG),
      expectedSize: BIG.length,
      onProgress: (e) => events.push(e),
      progressIntervalMs: 0,
    });
    expect(r).toMatchObject({ path: dest, bytes: BIG.length, sha256: sha(BIG), resumedFrom: 0, skipped: false });
    expect((await readFile(dest)).equals(BIG)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(`${dest}.part.lock`)).toBe(false);
    const last = events[events.length - 1]!;
    expect(last.bytes).toBe(BIG.length);
    expect(last.total).toBe(BIG.length);
    // bytes never go backwards and never exceed the total
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    expect(events.every((e) => e.bytes <= BIG.length && e.rate >= 0)).toBe(true);
  });

  it('skips a file that is already complete under its final name', async () => {
    const dest = path.join(tmp, 'big.bin');
    await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    const before = server.log.length;
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    expect(r.skipped).toBe(true);
    expect(server.log.length).toBe(before);
  });

  it('replaces a wrong file under the final name (hash mismatch) through the same atomic path', async () => {
    const dest = path.join(tmp, 'big.bin');
    await writeFile(dest, Buffer.alloc(BIG.length));
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG), expectedSize: BIG.length });
    expect(r.skipped).toBe(false);
    expect((await readFile(dest)).equals(BIG)).toBe(true);
  });

  it('interrupted transfer leaves a .part (not the final name); the next call resumes with Range and the sha256 is right', async () => {
    server.behaviours.set('/big.bin', { kind: 'drop', after: 100_000, times: 1 });
    const dest = path.join(tmp, 'big.bin');
    const err = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG), retries: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('DOWNLOAD');
    expect((err as DownloadError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/interrupted|closed/);
    expect(existsSync(dest)).toBe(false);
    // The bytes that reached the client before the reset (at most what the server sent) are kept.
    const partSize = (await stat(`${dest}.part`)).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThanOrEqual(100_000);

    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG), retries: 0 });
    expect(r.resumedFrom).toBe(partSize);
    expect(r.sha256).toBe(sha(BIG));
    expect((await readFile(dest)).equals(BIG)).toBe(true);
    expect(server.log[server.log.length - 1]!.range).toBe(`bytes=${partSize}-`);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('retries a dropped connection by itself, resuming each time', async () => {
    server.behaviours.set('/big.bin', { kind: 'drop', after: 50_000, times: 2 });
    const dest = path.join(tmp, 'big.bin');
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG), retries: 3, retryDelayMs: 1 });
    expect(r.sha256).toBe(sha(BIG));
    const ranges = server.log.map((l) => l.range);
    expect(ranges).toHaveLength(3);
    expect(ranges[0]).toBeUndefined();
    const starts = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r!)![1]));
    expect(starts[0]).toBeGreaterThan(0);
    expect(starts[1]).toBeGreaterThan(starts[0]!);
  });

  it('corrupted bytes are rejected with CHECKSUM and the bad file is deleted', async () => {
    server.behaviours.set('/big.bin', { kind: 'corrupt', at: 12345 });
    const dest = path.join(tmp, 'big.bin');
    const err = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) }).catch((e) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as EngineError).code).toBe('CHECKSUM');
    expect((err as Error).message).toContain(sha(BIG));
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('a corrupted .part from an earlier session is caught when resuming', async () => {
    const dest = path.join(tmp, 'big.bin');
    const bad = Buffer.from(BIG.subarray(0, 1000));
    bad[10] = bad[10]! ^ 1;
    await writeFile(`${dest}.part`, bad);
    const err = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) }).catch((e) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect(existsSync(`${dest}.part`)).toBe(false);
    // and the next attempt starts from zero and succeeds
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    expect(r.resumedFrom).toBe(0);
  });

  it('size mismatch against the manifest is a CHECKSUM error before anything is kept', async () => {
    const dest = path.join(tmp, 'big.bin');
    const err = await downloadFile(`${server.url}/big.bin`, dest, { expectedSize: BIG.length + 1 }).catch((e) => e);
    expect((err as EngineError).code).toBe('CHECKSUM');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('404 is reported as DOWNLOAD "not found" and not retried', async () => {
    const dest = path.join(tmp, 'nope.bin');
    const err = await downloadFile(`${server.url}/nope.bin`, dest, { retries: 3, retryDelayMs: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).status).toBe(404);
    expect((err as Error).message).toMatch(/not found \(HTTP 404\)/);
    expect(server.log.length).toBe(1);
    expect(existsSync(dest)).toBe(false);
  });

  it('5xx is retried and then reported', async () => {
    server.behaviours.set('/big.bin', { kind: 'status', status: 503 });
    const err = await downloadFile(`${server.url}/big.bin`, path.join(tmp, 'b'), { retries: 1, retryDelayMs: 1 }).catch((e) => e);
    expect((err as DownloadError).status).toBe(503);
    expect((err as Error).message).toMatch(/server error \(HTTP 503\)/);
    expect(server.log.length).toBe(2);
  });

  it('401 explains HF_TOKEN', async () => {
    server.behaviours.set('/big.bin', { kind: 'status', status: 401 });
    const err = await downloadFile(`${server.url}/big.bin`, path.join(tmp, 'b')).catch((e) => e);
    expect((err as Error).message).toMatch(/HF_TOKEN/);
  });

  it('a server that never answers times out with a DOWNLOAD error', async () => {
    server.behaviours.set('/big.bin', { kind: 'hang' });
    const err = await downloadFile(`${server.url}/big.bin`, path.join(tmp, 'b'), { timeoutMs: 300, retries: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/timed out/);
  });

  it('a stalled body times out and keeps the bytes received for resuming', async () => {
    server.behaviours.set('/big.bin', { kind: 'stall', after: 70_000 });
    const dest = path.join(tmp, 'big.bin');
    const err = await downloadFile(`${server.url}/big.bin`, dest, { timeoutMs: 300, retries: 0 }).catch((e) => e);
    expect((err as Error).message).toMatch(/timed out/);
    expect((await stat(`${dest}.part`)).size).toBe(70_000);
    server.behaviours.delete('/big.bin');
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    expect(r.resumedFrom).toBe(70_000);
  });

  it('cancel via AbortSignal throws CANCELLED and leaves a resumable .part', async () => {
    server.behaviours.set('/big.bin', { kind: 'slow', chunk: 16_384, delayMs: 5 });
    const dest = path.join(tmp, 'big.bin');
    const ac = new AbortController();
    const err = await downloadFile(`${server.url}/big.bin`, dest, {
      signal: ac.signal,
      progressIntervalMs: 0,
      onProgress: (e) => {
        if (e.bytes >= 60_000) ac.abort();
      },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as EngineError).code).toBe('CANCELLED');
    expect(existsSync(dest)).toBe(false);
    const partSize = (await stat(`${dest}.part`)).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(BIG.length);
    expect(existsSync(`${dest}.part.lock`)).toBe(false);

    server.behaviours.delete('/big.bin');
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    expect(r.resumedFrom).toBe(partSize);
    expect(r.sha256).toBe(sha(BIG));
  });

  it('an already-aborted signal does nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(downloadFile(`${server.url}/big.bin`, path.join(tmp, 'b'), { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(server.log.length).toBe(0);
  });

  it('a server that ignores Range restarts from zero instead of splicing', async () => {
    server.behaviours.set('/big.bin', { kind: 'ignore-range' });
    const dest = path.join(tmp, 'big.bin');
    await writeFile(`${dest}.part`, BIG.subarray(0, 5000));
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    expect(r.sha256).toBe(sha(BIG));
    expect((await readFile(dest)).equals(BIG)).toBe(true);
  });

  it('a complete .part (416 on resume) is verified and renamed without refetching', async () => {
    const dest = path.join(tmp, 'big.bin');
    await writeFile(`${dest}.part`, BIG);
    const r = await downloadFile(`${server.url}/big.bin`, dest, { expectedSha256: sha(BIG) });
    expect(r.bytes).toBe(BIG.length);
    expect(server.log[0]!.range).toBe(`bytes=${BIG.length}-`);
  });

  it('follows redirects and sends the token only to the original origin', async () => {
    const other = await startTestServer();
    try {
      other.files.set('/cdn/big.bin', BIG);
      server.behaviours.set('/big.bin', { kind: 'redirect', to: `${other.url}/cdn/big.bin` });
      const r = await downloadFile(`${server.url}/big.bin`, path.join(tmp, 'big.bin'), { expectedSha256: sha(BIG), token: 'hf_secret' });
      expect(r.sha256).toBe(sha(BIG));
      expect(server.log[0]!.authorization).toBe('Bearer hf_secret');
      expect(other.log[0]!.authorization).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it('goes through an HTTP proxy (CONNECT) when one is configured', async () => {
    const proxy = await startTestProxy();
    try {
      const r = await downloadFile(`${server.url}/small.json`, path.join(tmp, 's.json'), { proxy: proxy.url, noProxy: '', expectedSha256: sha(SMALL) });
      expect(r.sha256).toBe(sha(SMALL));
      expect(proxy.connects).toEqual([`127.0.0.1:${server.port}`]);
    } finally {
      await proxy.close();
    }
  });

  it('NO_PROXY bypasses the proxy', async () => {
    const proxy = await startTestProxy();
    try {
      await downloadFile(`${server.url}/small.json`, path.join(tmp, 's.json'), { proxy: proxy.url, noProxy: '127.0.0.1' });
      expect(proxy.connects).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a second concurrent download of the same file', async () => {
    server.behaviours.set('/big.bin', { kind: 'slow', chunk: 50_000, delayMs: 20 });
    const dest = path.join(tmp, 'big.bin');
    const first = downloadFile(`${server.url}/big.bin`, dest);
    await new Promise((r) => setTimeout(r, 10));
    await expect(downloadFile(`${server.url}/big.bin`, dest)).rejects.toThrow(/already being downloaded/);
    await first;
  });
});

describe('hub URLs and offline', () => {
  it('builds resolve URLs', () => {
    expect(hubFileUrl('org/repo', 'main', 'unet/model.onnx')).toBe('https://huggingface.co/org/repo/resolve/main/unet/model.onnx');
    expect(hubFileUrl('org/repo', 'abc', 'a b/c.json', 'http://mirror.local/')).toBe('http://mirror.local/org/repo/resolve/abc/a%20b/c.json');
  });
  it('reads INVERSION_STUDIO_OFFLINE', () => {
    expect(isOffline(undefined, { INVERSION_STUDIO_OFFLINE: '1' })).toBe(true);
    expect(isOffline(undefined, { INVERSION_STUDIO_OFFLINE: '0' })).toBe(false);
    expect(isOffline(undefined, {})).toBe(false);
    expect(isOffline(false, { INVERSION_STUDIO_OFFLINE: '1' })).toBe(false);
  });
});

describe('downloadModel', () => {
  const A = randomBytes(40_000);
  const B = Buffer.from('{"_class_name":"LMSDiscreteScheduler"}');
  const manifest = () =>
    parseManifest({
      id: 'tiny',
      title: 'Tiny test model',
      kind: 'clip',
      hubRepo: 'org/tiny',
      revision: 'main',
      files: [
        { path: 'onnx/model.onnx', size: A.length, sha256: sha(A) },
        { path: 'config.json', sha256: sha(B) },
        { path: 'extra/optional.txt', optional: true },
      ],
    });

  beforeEach(() => {
    server.files.set('/org/tiny/resolve/main/onnx/model.onnx', A);
    server.files.set('/org/tiny/resolve/main/config.json', B);
  });

  it('downloads every file with aggregate progress and writes the install record; a second call is a no-op', async () => {
    const events: Array<{ bytes: number; total?: number; file: string }> = [];
    const r = await downloadModel(manifest(), tmp, {
      endpoint: server.url,
      env: {},
      progressIntervalMs: 0,
      onProgress: (e) => events.push({ bytes: e.bytes, total: e.total, file: e.file }),
    });
    expect(r.alreadyInstalled).toBe(false);
    expect(r.downloadedBytes).toBe(A.length + B.length);
    expect(r.files.map((f) => f.path)).toEqual(['onnx/model.onnx', 'config.json']);
    expect((await readFile(path.join(tmp, 'models', 'tiny', 'onnx', 'model.onnx'))).equals(A)).toBe(true);
    const rec = await readInstallRecord(tmp, 'tiny');
    expect(rec).toMatchObject({ id: 'tiny', source: 'download', hubRepo: 'org/tiny', revision: 'main' });
    expect(rec!.files!.find((f) => f.path === 'config.json')!.sha256).toBe(sha(B));
    const last = events[events.length - 1]!;
    expect(last.bytes).toBe(A.length + B.length);
    expect(last.total).toBe(A.length + B.length);
    expect(events.map((e) => e.file)).toEqual(expect.arrayContaining(['onnx/model.onnx', 'config.json']));

    const n = server.log.length;
    const again = await downloadModel(manifest(), tmp, { endpoint: server.url, env: {} });
    expect(again.alreadyInstalled).toBe(true);
    expect(server.log.length).toBe(n);
  });

  it('repairs an installed model whose file was deleted, fetching only that file', async () => {
    await downloadModel(manifest(), tmp, { endpoint: server.url, env: {} });
    await rm(path.join(tmp, 'models', 'tiny', 'config.json'));
    server.log.length = 0;
    const r = await downloadModel(manifest(), tmp, { endpoint: server.url, env: {} });
    expect(r.alreadyInstalled).toBe(false);
    expect(server.log.map((l) => l.path)).toEqual(['/org/tiny/resolve/main/config.json', '/org/tiny/resolve/main/extra/optional.txt']);
    expect(await readInstallRecord(tmp, 'tiny')).toBeDefined();
  });

  it('sends HF_TOKEN from the environment', async () => {
    await downloadModel(manifest(), tmp, { endpoint: server.url, env: { HF_TOKEN: 'hf_abc' } });
    expect(server.log.filter((l) => l.path.startsWith('/org/tiny')).every((l) => l.authorization === 'Bearer hf_abc')).toBe(true);
  });

  it('resumes an interrupted model download without refetching finished files', async () => {
    server.behaviours.set('/org/tiny/resolve/main/config.json', { kind: 'status', status: 500 });
    await expect(downloadModel(manifest(), tmp, { endpoint: server.url, env: {}, retries: 0 })).rejects.toBeInstanceOf(DownloadError);
    expect(await readInstallRecord(tmp, 'tiny')).toBeUndefined();
    server.behaviours.clear();
    server.log.length = 0;
    const r = await downloadModel(manifest(), tmp, { endpoint: server.url, env: {} });
    expect(r.files.find((f) => f.path === 'onnx/model.onnx')!.skipped).toBe(true);
    expect(server.log.map((l) => l.path).filter((p) => p.endsWith('model.onnx'))).toEqual([]);
  });

  it('offline mode fails fast and explains how to import a folder', async () => {
    const err = await downloadModel(manifest(), tmp, { endpoint: server.url, env: { INVERSION_STUDIO_OFFLINE: '1' } }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/offline/);
    expect((err as Error).message).toMatch(/models import DIR --name tiny/);
    expect(server.log.length).toBe(0);
  });

  it('a missing required file fails the model with the 404', async () => {
    server.files.delete('/org/tiny/resolve/main/config.json');
    const err = await downloadModel(manifest(), tmp, { endpoint: server.url, env: {} }).catch((e) => e);
    expect((err as DownloadError).status).toBe(404);
    expect(await readInstallRecord(tmp, 'tiny')).toBeUndefined();
  });
});
