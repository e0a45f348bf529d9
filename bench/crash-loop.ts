/**
 * `npm run bench:crash [-- options]`: kill -9 loop against the web bridge and its engine worker
 * while they generate and save into a library (issue 17). Not part of `npm test`: it takes a few
 * minutes and needs Linux (/proc, to find the worker of a bridge).
 *
 * Each round starts `inversion-studio serve` on the demo model set, checks the library as the
 * new start sees it, queues generations (64x64, 2 steps: a save every few hundred ms), then at
 * random moments kills the engine worker with SIGKILL (the bridge restarts it) and then the
 * bridge itself with SIGKILL (its worker loses its parent mid-job). After the last round one more
 * start is checked:
 *
 *   - index.json parses, carries our format stamp and every entry passes the item schema;
 *   - every finished item (a job.result a client saw, or an item PNG on disk) is in the index
 *     after the next start;
 *   - no temp files are left in the library, the data folder or the cache's tmp/.
 *
 * Options: --rounds N (default 12; two kills per round) --seconds N (time bound, default 600)
 * --keep (leave the work folder) --seed N.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ensureDemoModelSet } from '../src/main/engine/models/demo/index.js';
import { ITEM_CHUNK_KEY, LIBRARY_INDEX_FORMAT } from '../src/main/host/library.js';
import { readPngText } from '../src/main/host/png-text.js';
import { LibraryItemSchema } from '../src/shared/ipc/library.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '600' },
    seed: { type: 'string', default: '17' },
    keep: { type: 'boolean' },
  },
});
const rounds = Number(a.rounds);
const deadline = performance.now() + Number(a.seconds) * 1000;
let rng = Number(a.seed) >>> 0 || 17;
const random = (): number => {
  rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
  return rng / 2 ** 32;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const left = () => deadline - performance.now();

if (process.platform !== 'linux') {
  console.error('bench:crash needs Linux (/proc) to find the engine worker of a bridge');
  process.exit(2);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'is-crash-loop-'));
const data = path.join(work, 'data');
const library = path.join(work, 'library');
const web = path.join(work, 'web');
const cache = path.join(os.tmpdir(), 'inversion-studio-bench-cache');
mkdirSync(web, { recursive: true });
writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>Inversion Studio</title>');

interface Bridge {
  child: ChildProcess;
  url: string;
  log: () => string;
}

async function startBridge(): Promise<Bridge> {
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin/inversion-studio.js'),
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--library',
      library,
      '--cache',
      cache,
      '--models',
      'demo',
      '--web',
      web,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INVERSION_STUDIO_TOKEN: '' } },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the bridge printed no URL in 90 s:\n${out}`)), Math.min(90_000, Math.max(1000, left())));
    const check = () => {
      const m = /running at (\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the bridge exited (${code}) before serving:\n${out}`)));
  });
  return { child, url, log: () => out };
}

/** Minimal protocol client over the bridge's WebSocket. */
class Client {
  private ws: WebSocket;
  private n = 0;
  private waiting = new Map<string, (m: { ok: boolean; result?: unknown; error?: { message: string } }) => void>();
  readonly finishedFiles: string[] = [];
  readonly events: string[] = [];
  private opened: Promise<void>;
  private savingWaiters: Array<() => void> = [];
  /** Resolves when the engine reports that a job is saving its result (or after `ms`). */
  nextSave(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.savingWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
  constructor(url: string) {
    const u = new URL(url);
    this.ws = new WebSocket(`ws://${u.host}/api/ws?token=${u.searchParams.get('token')}`);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => undefined);
    this.ws.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      if (m.kind === 'response') this.waiting.get(m.id)?.(m);
      else if (m.kind === 'event') {
        this.events.push(m.event.type === 'engine.status' ? `engine.${m.event.state}` : m.event.type);
        if (m.event.type === 'job.result') this.finishedFiles.push(m.event.result.item.file);
        if (m.event.type === 'job.progress' && m.event.progress.phase === 'saving') for (const f of this.savingWaiters.splice(0)) f();
      }
    });
  }
  async request(request: unknown, timeoutMs = 30_000): Promise<unknown> {
    await this.opened;
    const id = `b${++this.n}`;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(request).slice(0, 60)}`)), timeoutMs);
      this.waiting.set(id, (m) => {
        clearTimeout(t);
        this.waiting.delete(id);
        if (m.ok) resolve(m.result);
        else reject(new Error(m.error?.message ?? 'failed'));
      });
      this.ws.send(JSON.stringify({ kind: 'request', id, request }));
    });
  }
  close(): void {
    this.ws.terminate();
  }
}

function workerPidOf(bridgePid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${bridgePid}/task/${bridgePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids[0];
  } catch {
    return undefined;
  }
}

const isTemp = (name: string) => /\.tmp$/.test(name) || /^\.inversion-studio-\d+-/.test(name) || /^session-\d+-/.test(name);
function tempFiles(): string[] {
  const out: string[] = [];
  for (const dir of [library, data, path.join(cache, 'tmp')])
    for (const f of existsSync(dir) ? readdirSync(dir) : []) if (isTemp(f)) out.push(path.join(path.basename(dir), f));
  return out;
}

/** Item PNGs on disk (those carrying our item JSON): the items a start must index. */
function itemPngs(): string[] {
  const out: string[] = [];
  for (const f of existsSync(library) ? readdirSync(library) : []) {
    if (!f.endsWith('.png') || f.startsWith('.')) continue;
    try {
      if (readPngText(readFileSync(path.join(library, f))).has(ITEM_CHUNK_KEY)) out.push(f);
    } catch {
      // unreadable: not finished
    }
  }
  return out;
}

function checkIndexFile(): { ok: boolean; items: number; problem?: string } {
  const file = path.join(library, 'index.json');
  try {
    const idx = JSON.parse(readFileSync(file, 'utf8'));
    if (idx.format !== LIBRARY_INDEX_FORMAT || idx.version !== 1 || !Array.isArray(idx.items))
      return { ok: false, items: 0, problem: 'no stamp' };
    for (const it of idx.items)
      if (!LibraryItemSchema.safeParse(it).success) return { ok: false, items: idx.items.length, problem: 'bad item' };
    return { ok: true, items: idx.items.length };
  } catch (e) {
    return { ok: false, items: 0, problem: (e as Error).message };
  }
}

const figures = {
  rounds: 0,
  workerKills: 0,
  bridgeKills: 0,
  /** Kills sent 0-8 ms after a job reported that it was saving. */
  killsDuringSave: 0,
  jobsFinished: 0,
  startsChecked: 0,
  missingAfterStart: 0,
  invalidIndexAfterStart: 0,
  /** Temp files found right after a worker was killed (its unfinished writes). */
  tempFilesRightAfterWorkerKills: 0,
  /** Temp files found at the end of a round (after the restart's sweep and the orphaned worker's exit). */
  tempFilesAtRoundEnd: 0,
  tempFilesAfterStart: 0,
  reindexNotices: 0,
  startSeconds: [] as number[],
};
const seenFinished = new Set<string>();

/** What a fresh start must show: the library listed through the bridge, compared with the disk. */
async function checkStart(client: Client): Promise<void> {
  const page = (await client.request({ type: 'listLibrary', limit: 10_000 }, 60_000)) as { items: { file: string }[]; total: number };
  const indexed = new Set(page.items.map((i) => i.file));
  const must = new Set([...seenFinished, ...itemPngs()]);
  const missing = [...must].filter((f) => !indexed.has(f));
  const idx = checkIndexFile();
  const temps = tempFiles();
  figures.startsChecked++;
  figures.missingAfterStart += missing.length;
  if (!idx.ok) figures.invalidIndexAfterStart++;
  figures.tempFilesAfterStart += temps.length;
  if (missing.length || !idx.ok || temps.length)
    console.error(
      `  start check: ${missing.length} missing (${missing.slice(0, 3).join(', ')}), index ${idx.ok ? 'ok' : idx.problem}, temps ${temps.join(', ')}`,
    );
}

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`work folder ${work}; demo set in ${cache}`);
  await ensureDemoModelSet(cache);
  for (let r = 0; r < rounds && left() > 30_000; r++) {
    const ts = performance.now();
    const bridge = await startBridge();
    figures.startSeconds.push((performance.now() - ts) / 1000);
    const client = new Client(bridge.url);
    try {
      await checkStart(client);
      let seed = r * 1000;
      const submit = async (n: number) => {
        for (let i = 0; i < n; i++)
          await client
            .request({ type: 'generate', prompt: `a red fox ${seed}`, seed: seed++, steps: 2, width: 64, height: 64 })
            .catch(() => undefined);
      };
      await submit(40);
      // Kill the worker at a random moment after results start coming.
      const firstResult = performance.now();
      while (client.finishedFiles.length === 0 && performance.now() - firstResult < 60_000) await sleep(20);
      await sleep(random() * 500);
      // Kill inside a save: when a job reports 'saving', after 0-8 ms (the PNG and index writes).
      if (await client.nextSave(5000)) figures.killsDuringSave++;
      await sleep(random() * 8);
      const wpid = workerPidOf(bridge.child.pid!);
      if (wpid) {
        process.kill(wpid, 'SIGKILL');
        figures.workerKills++;
        // What the kill left, before the restarted worker sweeps it (the host restarts after 200 ms).
        for (let i = 0; i < 20 && existsSync(`/proc/${wpid}/exe`); i++) await sleep(5);
        figures.tempFilesRightAfterWorkerKills += tempFiles().length;
      }
      // The bridge restarts it and resubmits the queued jobs; kill the bridge while they run.
      const before = client.finishedFiles.length;
      const tw = performance.now();
      while (client.finishedFiles.length <= before && performance.now() - tw < 60_000) await sleep(20);
      if (await client.nextSave(5000)) figures.killsDuringSave++;
      await sleep(random() * 8);
      for (const f of client.finishedFiles) seenFinished.add(f);
      const restarted = workerPidOf(bridge.child.pid!);
      bridge.child.kill('SIGKILL');
      figures.bridgeKills++;
      await new Promise((res) => (bridge.child.exitCode !== null ? res(null) : bridge.child.once('exit', res)));
      // Its worker notices the lost parent and exits; wait for that so the next start is alone.
      for (let i = 0; i < 200 && restarted && existsSync(`/proc/${restarted}`); i++) await sleep(50);
      await sleep(100);
      figures.jobsFinished += client.finishedFiles.length;
      figures.reindexNotices += (bridge.log().match(/were added back/g) ?? []).length;
      figures.tempFilesAtRoundEnd += tempFiles().length;
      figures.rounds++;
      console.log(
        `round ${r + 1}: ${client.finishedFiles.length} jobs finished, ${tempFiles().length} temp files at the end, ${itemPngs().length} item PNGs on disk`,
      );
    } finally {
      client.close();
      if (bridge.child.exitCode === null) bridge.child.kill('SIGKILL');
    }
  }
  // The next start after the last kill.
  const bridge = await startBridge();
  const client = new Client(bridge.url);
  try {
    await checkStart(client);
    figures.reindexNotices += (bridge.log().match(/were added back/g) ?? []).length;
  } finally {
    client.close();
    bridge.child.kill('SIGTERM');
    await new Promise((res) => (bridge.child.exitCode !== null ? res(null) : bridge.child.once('exit', res)));
  }
  const idx = checkIndexFile();
  const ok = figures.missingAfterStart === 0 && figures.invalidIndexAfterStart === 0 && figures.tempFilesAfterStart === 0;
  const med = [...figures.startSeconds].sort((x, y) => x - y)[Math.floor(figures.startSeconds.length / 2)] ?? 0;
  console.log(
    JSON.stringify(
      {
        ok,
        ...figures,
        startSeconds: undefined,
        medianStartSeconds: Number(med.toFixed(2)),
        itemsIndexedAtEnd: idx.items,
        itemPngsOnDisk: itemPngs().length,
        seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
      },
      null,
      2,
    ),
  );
  if (!a.keep) rmSync(work, { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  if (!a.keep) rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
