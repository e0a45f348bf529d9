/**
 * Crash handling with the real engine: the engine worker (a forked Node process, as in the web
 * bridge) is killed in the middle of an inversion on the demo models.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineHost } from '../../../src/main/host/engine-host.js';
import { nodeWorkerLauncher } from '../../../src/main/host/node-worker.js';
import { MemorySettingsStore } from '../../../src/main/host/settings-store.js';
import { Collector } from './collector.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'host-real-'));
const host = new EngineHost({
  launch: nodeWorkerLauncher({ silent: true }),
  settings: new MemorySettingsStore(),
  libraryDir: () => path.join(dir, 'library'),
  transport: 'web',
});
const out = new Collector();
const conn = host.connect(out.send);
let n = 0;
async function ask(request: unknown) {
  const id = `q${++n}`;
  conn.handle({ kind: 'request', id, request });
  const r = await out.waitResponse(id, 600_000);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.result as { jobId: string };
}

afterAll(async () => {
  conn.close();
  await host.stop();
});

describe('engine crash during an inversion (real engine, demo models)', () => {
  it('reports crashed + failed, restarts, runs the next job; the library is intact', async () => {
    await host.start();
    const g = await ask({ type: 'generate', prompt: 'a blue boat on a lake', seed: 3, steps: 2, width: 128, height: 128 });
    const generated = await out.waitEvent('job.result', (e) => e.jobId === g.jobId, 600_000);
    const itemId = (generated.result as { item: { id: string } }).item.id;

    const inv = await ask({ type: 'invert', image: { source: 'library', id: itemId }, preset: 'fast', iterations: 2000, init: 'a boat' });
    await out.waitEvent('job.progress', (e) => e.jobId === inv.jobId && e.progress.phase === 'refining' && e.progress.step >= 1, 600_000);
    const pid = host.workerPid!;
    process.kill(pid, 'SIGKILL');

    const crashed = await out.waitEvent('engine.status', (e) => e.state === 'crashed');
    expect(crashed.message).toMatch(/killed \(SIGKILL\)/);
    const failed = await out.waitEvent('job.failed', (e) => e.jobId === inv.jobId);
    expect(failed.code).toBe('ENGINE_CRASHED');
    await out.waitEvent('engine.status', (e) => e.state === 'restarted', 120_000);
    expect(host.workerPid).not.toBe(pid);

    const next = await ask({ type: 'generate', prompt: 'a green hill', seed: 4, steps: 2, width: 128, height: 128 });
    await out.waitEvent('job.result', (e) => e.jobId === next.jobId, 600_000);
    conn.handle({ kind: 'request', id: 'lib', request: { type: 'listLibrary' } });
    const lib = (await out.waitResponse('lib')) as { ok: true; result: { items: Array<{ id: string; kind: string }> } };
    expect(lib.result.items.map((i) => i.kind)).toEqual(['generation', 'generation']);
    expect(lib.result.items.map((i) => i.id)).toContain(itemId);
  }, 900_000);
});
