/**
 * Resumable, verified HTTP(S) downloads.
 *
 * Invariants (docs/architecture.md, "Data on disk"): bytes go to `<dest>.part`; the final name only ever appears through an atomic
 * rename after the size/sha256 checks pass; a checksum failure deletes the `.part`; an interruption
 * (cancel, timeout, dropped connection) keeps it, and the next call resumes with an HTTP Range request
 * after re-hashing what is already on disk (so the sha256 covers every byte, old and new).
 *
 * Proxies: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and lower-case forms) through undici's
 * EnvHttpProxyAgent; an explicit `proxy` option overrides the environment.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { CancelledError, EngineError, throwIfAborted } from '../errors.js';
import { commitTempFile } from '../io/safe-write.js';
import { modelDir, readInstallRecord, removeInstallRecord, writeInstallRecord } from './cache.js';
import type { Manifest } from './manifest-schema.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const MAX_REDIRECTS = 8;
const USER_AGENT = 'inversion-studio/0.1 (+undici)';

/** Thrown for transport and HTTP failures; `retryable` failures are retried (with resume) by `downloadFile`. */
export class DownloadError extends EngineError {
  constructor(
    message: string,
    readonly retryable = false,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super('DOWNLOAD', message, options);
    this.name = 'DownloadError';
  }
}

/** Thrown when a completed file has the wrong size or sha256; the bad file has been deleted. */
export class ChecksumError extends EngineError {
  constructor(message: string) {
    super('CHECKSUM', message);
    this.name = 'ChecksumError';
  }
}

export interface DownloadProgress {
  /** Bytes of the file present so far (including bytes resumed from an earlier attempt). */
  bytes: number;
  /** Total size in bytes, when the server or the caller said it. */
  total?: number;
  /** Transfer rate in bytes per second over the last few seconds (0 until measurable). */
  rate: number;
  /** Seconds left at the current rate, when total and rate are known. */
  etaSeconds?: number;
}

export interface DownloadFileOptions {
  /** Lowercase hex sha256 the finished file must have. */
  expectedSha256?: string;
  /** Exact size in bytes the finished file must have. */
  expectedSize?: number;
  signal?: AbortSignal;
  onProgress?: (e: DownloadProgress) => void;
  /** Proxy URL for both http and https (overrides HTTP(S)_PROXY). */
  proxy?: string;
  /** Hosts that bypass the proxy (overrides NO_PROXY); '' means none. */
  noProxy?: string;
  /** Give up when the server sends nothing for this long (connect, headers, or between body chunks). Default 30 000 ms. */
  timeoutMs?: number;
  /** Bearer token; sent only to the URL's own origin, never to a redirect target elsewhere (hub CDNs). */
  token?: string;
  headers?: Record<string, string>;
  /** Extra attempts after a retryable failure (dropped connection, timeout, 5xx); each resumes. Default 2. */
  retries?: number;
  /** Delay before retry n is n × this. Default 1000 ms. */
  retryDelayMs?: number;
  /** Minimum ms between progress events (a final event is always sent). Default 200. */
  progressIntervalMs?: number;
  /** Reuse a dispatcher (connection pool / proxy agent) across downloads; not closed here. */
  dispatcher?: Dispatcher;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes that were already in `.part` when this call started (0 for a fresh download). */
  resumedFrom: number;
  /** True when the file was already complete under its final name and nothing was fetched. */
  skipped: boolean;
}

/** A connection pool honouring the proxy options / environment; close it with `.destroy()`. */
export function createDispatcher(opts: { proxy?: string; noProxy?: string; timeoutMs?: number } = {}): Dispatcher {
  const t = opts.timeoutMs ?? 30_000;
  return new EnvHttpProxyAgent({
    httpProxy: opts.proxy,
    httpsProxy: opts.proxy,
    noProxy: opts.noProxy,
    headersTimeout: t,
    bodyTimeout: t,
    connectTimeout: t,
  });
}

/** `${endpoint}/${repo}/resolve/${revision}/${path}` with each segment URL-encoded. */
export function hubFileUrl(repo: string, revision: string, filePath: string, endpoint: string = DEFAULT_HF_ENDPOINT): string {
  const base = endpoint.replace(/\/+$/, '');
  const enc = (s: string) => s.split('/').map(encodeURIComponent).join('/');
  return `${base}/${enc(repo)}/resolve/${encodeURIComponent(revision)}/${enc(filePath)}`;
}

// ---------------------------------------------------------------------------------------------

class RateMeter {
  private samples: Array<[number, number]> = [];
  constructor(private readonly windowMs = 5000) {}
  add(bytes: number, now = performance.now()): void {
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > this.windowMs) this.samples.shift();
  }
  rate(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0]!;
    const [t1, b1] = this.samples[this.samples.length - 1]!;
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }
}

function progressEvent(bytes: number, total: number | undefined, rate: number): DownloadProgress {
  const e: DownloadProgress = { bytes, rate };
  if (total !== undefined) e.total = total;
  if (total !== undefined && rate > 0) e.etaSeconds = Math.max(0, (total - bytes) / rate);
  return e;
}

async function sizeOf(p: string): Promise<number | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function hashFileInto(hash: Hash, file: string, signal?: AbortSignal): Promise<void> {
  const rs = createReadStream(file, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of rs) {
      if (signal?.aborted) throw new CancelledError('download cancelled');
      hash.update(chunk as Buffer);
    }
  } finally {
    rs.destroy();
  }
}

/** sha256 (lowercase hex) of a file, streamed. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  await hashFileInto(h, file, signal);
  return h.digest('hex');
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // Signed CDN URLs carry credentials in the query; the path is enough for a message.
    u.search = '';
    return u.toString();
  } catch {
    return url;
  }
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH',
  'EHOSTUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_CONNECT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function classify(e: unknown, url: string, signal: AbortSignal | undefined, timeoutMs: number, got: number, total?: number): Error {
  if (signal?.aborted) return new CancelledError('download cancelled; the partial file is kept and the next download resumes from it');
  if (e instanceof EngineError) return e;
  const err = e as NodeJS.ErrnoException & { code?: string };
  const code = err?.code ?? '';
  const where = redact(url);
  const have = total !== undefined ? `${fmtBytes(got)} of ${fmtBytes(total)}` : fmtBytes(got);
  if (TIMEOUT_CODES.has(code)) {
    return new DownloadError(`download of ${where} timed out: no data for ${Math.round(timeoutMs / 1000)} s (have ${have}). Check the network or proxy (HTTPS_PROXY); running the download again resumes.`, true, undefined, { cause: e });
  }
  if (NETWORK_CODES.has(code) || /other side closed|socket|terminated|aborted/i.test(err?.message ?? '')) {
    return new DownloadError(`download of ${where} was interrupted (${code || err.message}) after ${have}. Running it again resumes from there.`, true, undefined, { cause: e });
  }
  if (['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EDQUOT'].includes(code)) {
    return new DownloadError(`cannot write the download of ${where}: ${err.message}. Free disk space or choose another cache folder (--cache / INVERSION_STUDIO_CACHE).`, false, undefined, { cause: e });
  }
  return new DownloadError(`download of ${where} failed: ${err?.message ?? String(e)}`, true, undefined, { cause: e });
}

function httpError(status: number, url: string, body: string): DownloadError {
  const where = redact(url);
  const detail = body.trim().slice(0, 200);
  const suffix = detail ? ` Server said: ${detail}` : '';
  if (status === 404 || status === 410) {
    return new DownloadError(`not found (HTTP ${status}): ${where}. The repository, revision or file name may be wrong, or the file was removed upstream.${suffix}`, false, status);
  }
  if (status === 401 || status === 403) {
    return new DownloadError(`access denied (HTTP ${status}): ${where}. If the model is gated, accept its licence on the hub and set HF_TOKEN to an access token.${suffix}`, false, status);
  }
  if (status === 429 || status >= 500) {
    return new DownloadError(`server error (HTTP ${status}) for ${where}; try again later (the download resumes).${suffix}`, true, status);
  }
  return new DownloadError(`unexpected HTTP ${status} for ${where}.${suffix}`, false, status);
}

interface Opened {
  res: Dispatcher.ResponseData;
  url: string;
}

async function openUrl(url: string, offset: number, opts: DownloadFileOptions, dispatcher: Dispatcher, timeoutMs: number): Promise<Opened> {
  let current = new URL(url);
  const origin = current.origin;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...opts.headers };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (opts.token && current.origin === origin) headers.authorization = `Bearer ${opts.token}`;
    const res = await request(current, {
      method: 'GET',
      headers,
      dispatcher,
      signal: opts.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if ([301, 302, 303, 307, 308].includes(res.statusCode)) {
      const loc = res.headers.location;
      await res.body.dump();
      if (!loc) throw new DownloadError(`HTTP ${res.statusCode} without a Location header from ${redact(current.toString())}`, true, res.statusCode);
      current = new URL(Array.isArray(loc) ? loc[0]! : loc, current);
      continue;
    }
    return { res, url: current.toString() };
  }
  throw new DownloadError(`too many redirects (> ${MAX_REDIRECTS}) starting at ${redact(url)}`, false);
}

function header(res: Dispatcher.ResponseData, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function bodyText(res: Dispatcher.ResponseData): Promise<string> {
  try {
    return await res.body.text();
  } catch {
    return '';
  }
}

const activeParts = new Set<string>();

async function acquireLock(part: string): Promise<() => Promise<void>> {
  if (activeParts.has(part)) throw new DownloadError(`${part} is already being downloaded in this process`, false);
  const lock = `${part}.lock`;
  try {
    const fh = await open(lock, 'wx');
    await fh.writeFile(String(process.pid));
    await fh.close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (k) {
        alive = (k as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) throw new DownloadError(`${part.slice(0, -5)} is already being downloaded by process ${pid}; wait for it or stop it.`, false);
    await writeFile(lock, String(process.pid));
  }
  activeParts.add(part);
  return async () => {
    activeParts.delete(part);
    await rm(lock, { force: true });
  };
}

async function closeWriter(ws: import('node:fs').WriteStream): Promise<void> {
  if (ws.closed) return;
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.once('error', () => resolve());
    ws.end();
  });
}

/**
 * One attempt: resume from whatever `.part` holds, stream the rest, verify, rename.
 * Throws DownloadError (retryable or not), ChecksumError or CancelledError.
 */
async function attempt(url: string, dest: string, part: string, opts: DownloadFileOptions, dispatcher: Dispatcher, startedWith: { bytes: number | undefined }): Promise<DownloadResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const interval = opts.progressIntervalMs ?? 200;
  let offset = (await sizeOf(part)) ?? 0;
  if (opts.expectedSize !== undefined && offset > opts.expectedSize) {
    await rm(part, { force: true });
    offset = 0;
  }
  startedWith.bytes ??= offset;
  let hash = createHash('sha256');
  if (offset > 0) await hashFileInto(hash, part, opts.signal);
  let total = opts.expectedSize;
  let received = offset;

  const finish = async (): Promise<DownloadResult> => {
    const sha = hash.digest('hex');
    const size = (await sizeOf(part)) ?? 0;
    if (opts.expectedSize !== undefined && size !== opts.expectedSize) {
      await rm(part, { force: true });
      throw new ChecksumError(`${path.basename(dest)} has ${size} bytes, expected ${opts.expectedSize}; the bad file was deleted. Run the download again; if it keeps failing the manifest or the upstream file changed.`);
    }
    if (opts.expectedSha256 && sha !== opts.expectedSha256.toLowerCase()) {
      await rm(part, { force: true });
      throw new ChecksumError(`sha256 mismatch for ${path.basename(dest)} from ${redact(url)}: expected ${opts.expectedSha256}, got ${sha}. The corrupted file was deleted; run the download again. If it keeps failing, the upstream file changed (pin a revision) or a proxy is altering it.`);
    }
    // fsync, refuse a non-regular destination, rename, fsync the folder; the verified .part is
    // kept when this fails (nothing to download again once the cause is fixed).
    await commitTempFile(part, dest, { what: 'the downloaded file' });
    opts.onProgress?.(progressEvent(size, size, 0));
    return { path: dest, bytes: size, sha256: sha, resumedFrom: startedWith.bytes ?? 0, skipped: false };
  };

  if (total !== undefined && offset === total && offset > 0) return finish();

  let opened: Opened;
  for (let pass = 0; ; pass++) {
    try {
      opened = await openUrl(url, offset, opts, dispatcher, timeoutMs);
    } catch (e) {
      throw classify(e, url, opts.signal, timeoutMs, received, total);
    }
    const { res } = opened;
    const status = res.statusCode;
    if (status === 416 && offset > 0) {
      // Range past the end: either .part is already complete, or it is longer than the file.
      const cr = header(res, 'content-range');
      await res.body.dump();
      const m = cr && /\*\/(\d+)/.exec(cr);
      if (m && Number(m[1]) === offset) return finish();
      if (pass > 0) throw new DownloadError(`server refused the range request for ${redact(url)} (HTTP 416)`, false, 416);
      await rm(part, { force: true });
      offset = received = 0;
      hash = createHash('sha256');
      continue;
    }
    if (status === 206) {
      const cr = header(res, 'content-range');
      const m = cr && /bytes\s+(\d+)-(\d+)\/(\d+|\*)/.exec(cr);
      if (!m || Number(m[1]) !== offset) {
        // A proxy or server answered a different range than asked: start over rather than splice.
        await res.body.dump();
        if (pass > 0) throw new DownloadError(`server sent an unexpected byte range (${cr ?? 'none'}) for ${redact(url)}`, true, 206);
        await rm(part, { force: true });
        offset = received = 0;
        hash = createHash('sha256');
        continue;
      }
      if (m[3] !== '*') total ??= Number(m[3]);
      break;
    }
    if (status === 200) {
      if (offset > 0) {
        // Server ignores Range: the body is the whole file, so drop what we had.
        offset = received = 0;
        hash = createHash('sha256');
      }
      const len = header(res, 'content-length');
      if (len !== undefined && /^\d+$/.test(len)) total ??= Number(len);
      break;
    }
    const text = await bodyText(res);
    throw httpError(status, opened.url, text);
  }

  const { res } = opened;
  const lenHeader = header(res, 'content-length');
  if (total !== undefined && lenHeader !== undefined && /^\d+$/.test(lenHeader) && offset + Number(lenHeader) !== total) {
    await res.body.dump().catch(() => undefined);
    await rm(part, { force: true });
    throw new ChecksumError(`server reports ${offset + Number(lenHeader)} bytes for ${path.basename(dest)} but ${total} are expected; nothing was kept. The manifest or the upstream file changed.`);
  }

  const ws = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  const meter = new RateMeter();
  let lastEmit = -Infinity;
  let sessionBytes = 0;
  meter.add(0);
  opts.onProgress?.(progressEvent(received, total, 0));
  let failure: unknown;
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      if (total !== undefined && received + buf.length > total) {
        throw new ChecksumError(`server sent more than the expected ${total} bytes for ${path.basename(dest)}`);
      }
      hash.update(buf);
      if (!ws.write(buf)) await once(ws, 'drain');
      received += buf.length;
      sessionBytes += buf.length;
      const now = performance.now();
      meter.add(sessionBytes, now);
      if (now - lastEmit >= interval) {
        lastEmit = now;
        opts.onProgress?.(progressEvent(received, total, meter.rate()));
      }
    }
  } catch (e) {
    failure = e;
  }
  await closeWriter(ws);
  if (failure instanceof ChecksumError) {
    await rm(part, { force: true });
    throw failure;
  }
  if (failure !== undefined) throw classify(failure, url, opts.signal, timeoutMs, received, total);
  throwIfAborted(opts.signal);
  if (total !== undefined && received < total) {
    throw new DownloadError(`connection to ${redact(url)} closed after ${fmtBytes(received)} of ${fmtBytes(total)}. Running the download again resumes from there.`, true);
  }
  return finish();
}

/**
 * Downloads `url` to `dest` (created with its parent folders), resuming from `dest + '.part'` and
 * verifying `expectedSize` / `expectedSha256`. If `dest` already exists with the right size and hash
 * nothing is fetched. Errors: DownloadError (code DOWNLOAD: HTTP 4xx/5xx, timeouts, network),
 * ChecksumError (code CHECKSUM; the bad file is deleted), CancelledError (the `.part` is kept).
 */
export async function downloadFile(url: string, dest: string, opts: DownloadFileOptions = {}): Promise<DownloadResult> {
  throwIfAborted(opts.signal);
  dest = path.resolve(dest);
  const existing = await sizeOf(dest);
  if (existing !== undefined && (opts.expectedSize === undefined || existing === opts.expectedSize)) {
    const sha = await sha256File(dest, opts.signal);
    if (!opts.expectedSha256 || sha === opts.expectedSha256.toLowerCase()) {
      opts.onProgress?.(progressEvent(existing, existing, 0));
      return { path: dest, bytes: existing, sha256: sha, resumedFrom: existing, skipped: true };
    }
    // A wrong file under the final name (edited by hand?) is replaced by the rename at the end.
  }
  await mkdir(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const release = await acquireLock(part);
  const dispatcher = opts.dispatcher ?? createDispatcher(opts);
  const retries = opts.retries ?? 2;
  const startedWith: { bytes: number | undefined } = { bytes: undefined };
  try {
    for (let n = 0; ; n++) {
      try {
        return await attempt(url, dest, part, opts, dispatcher, startedWith);
      } catch (e) {
        if (!(e instanceof DownloadError) || !e.retryable || n >= retries) throw e;
        try {
          await sleepTimer((opts.retryDelayMs ?? 1000) * (n + 1), undefined, { signal: opts.signal });
        } catch {
          throw new CancelledError('download cancelled; the partial file is kept and the next download resumes from it');
        }
      }
    }
  } finally {
    await release();
    if (!opts.dispatcher) await dispatcher.destroy().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

export interface ModelDownloadProgress extends DownloadProgress {
  phase: 'download' | 'verify';
  modelId: string;
  /** Repo path of the file being fetched. */
  file: string;
  fileIndex: number;
  fileCount: number;
}

export interface DownloadModelOptions {
  signal?: AbortSignal;
  onProgress?: (e: ModelDownloadProgress) => void;
  /** Fail instead of touching the network; also INVERSION_STUDIO_OFFLINE=1. */
  offline?: boolean;
  /** Hub base URL; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Hub token; default HF_TOKEN. */
  token?: string;
  proxy?: string;
  noProxy?: string;
  timeoutMs?: number;
  retries?: number;
  retryDelayMs?: number;
  progressIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ModelDownloadResult {
  id: string;
  dir: string;
  /** True when the install record was already there and every file present: nothing was done. */
  alreadyInstalled: boolean;
  /** Bytes fetched over the network in this call. */
  downloadedBytes: number;
  files: Array<{ path: string; size: number; sha256: string; skipped: boolean }>;
}

export function isOffline(option: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (option !== undefined) return option;
  const v = (env.INVERSION_STUDIO_OFFLINE ?? '').toLowerCase();
  return v !== '' && v !== '0' && v !== 'false' && v !== 'no';
}

async function presentFiles(dir: string, m: Manifest): Promise<{ missing: string[]; sizes: Map<string, number> }> {
  const missing: string[] = [];
  const sizes = new Map<string, number>();
  for (const f of m.files) {
    const s = await sizeOf(path.join(dir, ...f.path.split('/')));
    if (s === undefined) {
      if (!f.optional) missing.push(f.path);
    } else sizes.set(f.path, s);
  }
  return { missing, sizes };
}

/**
 * Downloads every file of `manifest` into `<cacheDir>/models/<id>/` with aggregate progress, then
 * writes the install record. Idempotent: verified files are skipped, partial ones resume. Optional
 * files that the hub does not have (404) are skipped. Offline mode fails fast before any request,
 * explaining how to import a local folder instead.
 */
export async function downloadModel(manifest: Manifest, cacheDir: string, opts: DownloadModelOptions = {}): Promise<ModelDownloadResult> {
  const env = opts.env ?? process.env;
  const dir = modelDir(cacheDir, manifest.id);
  const rec = await readInstallRecord(cacheDir, manifest.id);
  const present = await presentFiles(dir, manifest);
  if (rec && (rec.source !== 'download' || present.missing.length === 0)) {
    return {
      id: manifest.id,
      dir,
      alreadyInstalled: true,
      downloadedBytes: 0,
      files: (rec.files ?? []).map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 ?? '', skipped: true })),
    };
  }
  if (isOffline(opts.offline, env)) {
    const missing = present.missing.length ? present.missing : manifest.files.map((f) => f.path);
    throw new DownloadError(
      `offline mode (--offline or INVERSION_STUDIO_OFFLINE=1): cannot download '${manifest.id}' (${manifest.hubRepo}@${manifest.revision}); missing: ${missing.join(', ')}. ` +
        `Copy the repository's files from a machine with internet access and run \`inversion-studio models import DIR --name ${manifest.id}\` ` +
        `(add --link to use the folder in place), or unset INVERSION_STUDIO_OFFLINE.`,
      false,
    );
  }
  // A record whose files went missing is stale: drop it so an interrupted repair is not listed as installed.
  if (rec) await removeInstallRecord(cacheDir, manifest.id);
  const endpoint = opts.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_HF_ENDPOINT;
  const token = opts.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;

  // Expected sizes (exact, else hints) decide the aggregate total and the free-space check.
  const fileTotals = manifest.files.map((f) => f.size ?? f.sizeHint);
  const remaining = manifest.files.reduce((s, f, i) => s + Math.max(0, (fileTotals[i] ?? 0) - (present.sizes.get(f.path) ?? 0)), 0);
  await mkdir(dir, { recursive: true });
  try {
    const fsInfo = await statfs(dir);
    const free = Number(fsInfo.bavail) * Number(fsInfo.bsize);
    if (remaining > 0 && free < remaining * 1.02) {
      throw new DownloadError(`'${manifest.id}' needs about ${fmtBytes(remaining)} more in ${dir}, but only ${fmtBytes(free)} is free. Free some space or choose another cache folder (--cache / INVERSION_STUDIO_CACHE).`, false);
    }
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    // statfs unsupported here: skip the check.
  }

  const dispatcher = createDispatcher({ proxy: opts.proxy, noProxy: opts.noProxy, timeoutMs: opts.timeoutMs });
  const doneBytes: number[] = manifest.files.map(() => 0);
  const knownTotals: Array<number | undefined> = [...fileTotals];
  const results: Array<ModelDownloadResult['files'][number] & { fetched: number }> = [];
  try {
    for (let i = 0; i < manifest.files.length; i++) {
      const f = manifest.files[i]!;
      const dest = path.join(dir, ...f.path.split('/'));
      // Files download one after another, so the current file's rate is the aggregate rate.
      const emit = (e: DownloadProgress) => {
        if (e.total !== undefined) knownTotals[i] = e.total;
        doneBytes[i] = e.bytes;
        const bytes = doneBytes.reduce((a, b) => a + b, 0);
        const total = knownTotals.every((t) => t !== undefined) ? knownTotals.reduce<number>((a, b) => a + (b ?? 0), 0) : undefined;
        const base = progressEvent(bytes, total, e.rate);
        opts.onProgress?.({ ...base, phase: 'download', modelId: manifest.id, file: f.path, fileIndex: i, fileCount: manifest.files.length });
      };
      try {
        const r = await downloadFile(hubFileUrl(manifest.hubRepo, manifest.revision, f.path, endpoint), dest, {
          expectedSha256: f.sha256,
          expectedSize: f.size,
          signal: opts.signal,
          onProgress: emit,
          token,
          timeoutMs: opts.timeoutMs,
          retries: opts.retries,
          retryDelayMs: opts.retryDelayMs,
          progressIntervalMs: opts.progressIntervalMs,
          dispatcher,
        });
        results.push({ path: f.path, size: r.bytes, sha256: r.sha256, skipped: r.skipped, fetched: r.skipped ? 0 : r.bytes - r.resumedFrom });
      } catch (e) {
        if (f.optional && e instanceof DownloadError && e.status === 404) {
          knownTotals[i] = 0;
          doneBytes[i] = 0;
          continue;
        }
        throw e;
      }
    }
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
  const finalBytes = results.reduce((s, r) => s + r.size, 0);
  const last = manifest.files.length - 1;
  opts.onProgress?.({ ...progressEvent(finalBytes, finalBytes, 0), phase: 'download', modelId: manifest.id, file: manifest.files[last]!.path, fileIndex: last, fileCount: manifest.files.length });
  await writeInstallRecord(cacheDir, {
    id: manifest.id,
    kind: manifest.kind,
    source: 'download',
    installedAt: new Date().toISOString(),
    hubRepo: manifest.hubRepo,
    revision: manifest.revision,
    manifestId: manifest.id,
    files: results.map((r) => ({ path: r.path, size: r.size, sha256: r.sha256 })),
  });
  return {
    id: manifest.id,
    dir,
    alreadyInstalled: false,
    downloadedBytes: results.reduce((s, r) => s + r.fetched, 0),
    files: results.map(({ fetched: _fetched, ...r }) => r),
  };
}
