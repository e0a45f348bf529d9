/**
 * EngineHost supervision logic with an in-process "worker" (EngineService + fake engine behind a
 * WorkerHandle), so crashes can be simulated precisely and quickly. The real child-process path is
 * covered by web-bridge.test.ts and engine-host.real.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineHost, type WorkerHandle } from '../../../src/main/host/engine-host.js';
import { EngineService } from '../../../src/main/host/engine-service.js';
import { MemorySettingsStore } from '../../../src/main/host/settings-store.js';
import { Collector } from './collector.js';
import { createFakeEngine } from './fake-engine.js';
import type { HostToWorker, WorkerToHost } from '../../../src/main/host/worker-protocol.js';

interface FakeWorker extends WorkerHandle {
  crash(): void;
}

function inProcessLauncher(opts: { failStart?: () => boolean; maxQueuedJobs?: number } = {}) {
  const workers: FakeWorker[] = [];
  let pid = 1000;
  const launch = (): FakeWorker => {
    const myPid = ++pid;
    let onMsg: (m: WorkerToHost) => void = () => {};
    const exitHandlers: Array<(c: number | null, s: string | null) => void> = [];
    let alive = true;
    let service: EngineService | undefined;
    const exit = (code: number | null, signal: string | null) => {
      if (!alive) return;
      alive = false;
      void service?.dispose();
      setTimeout(() => exitHandlers.splice(0).forEach((h) => h(code, signal)), 5);
    };
    const w: FakeWorker = {
      pid: myPid,
      send(msg: HostToWorker) {
        if (!alive) return;
        setTimeout(() => {
          if (!alive) return;
          if (msg.kind === 'configure') {
            if (opts.failStart?.()) return exit(1, null);
            service = new EngineService({
              engine: createFakeEngine({ stepMs: 20 }),
              settings: msg.config.settings,
              libraryDir: msg.config.libraryDir,
              send: (m) => alive && onMsg(m),
              progressIntervalMs: 0,
              ...(opts.maxQueuedJobs ? { maxQueuedJobs: opts.maxQueuedJobs } : {}),
            });
            onMsg({ kind: 'ready', capabilities: ['generate'], pid: myPid });
          } else if (service) {
            const { jobId, ...m } = msg;
            void service.handle(m, jobId);
          }
        }, 1);
      },
      onMessage(h) {
        onMsg = h;
      },
      onExit(h) {
        exitHandlers.push(h);
      },
      kill() {
        exit(null, 'SIGTERM');
      },
      crash() {
        exit(null, 'SIGKILL');
      },
    };
    workers.push(w);
    return w;
  };
  return { launch, workers };
}

function setup(opts: Parameters<typeof inProcessLauncher>[0] = {}, maxRestarts = 5) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'host-'));
  const l = inProcessLauncher(opts);
  const host = new EngineHost({
    launch: l.launch,
    settings: new MemorySettingsStore(),
    libraryDir: () => dir,
    transport: 'web',
    maxRestarts,
  });
  const out = new Collector();
  const conn = host.connect(out.send);
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    conn.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  return { host, out, conn, ask, workers: l.workers };
}

describe('EngineHost', () => {
  it('answers settings itself, forwards the rest, and reports status', async () => {
    const { host, ask, out } = setup();
    await host.start();
    expect(await ask({ type: 'setSettings', patch: { provider: 'cpu' } })).toMatchObject({ ok: true, result: { provider: 'cpu' } });
    await out.waitEvent('settings.changed');
    expect(await ask({ type: 'getStatus' })).toMatchObject({ ok: true, result: { engine: 'ready', transport: 'web', restarts: 0 } });
    expect(await ask({ type: 'listModels' })).toMatchObject({ ok: true, result: { models: [{ id: 'demo' }] } });
    await host.stop();
  });

  it('on a crash: fails the running job, keeps queued jobs (same id) and cancels them on request while down', async () => {
    const { host, ask, out, workers } = setup();
    await host.start();
    const a = (await ask({ type: 'generate', prompt: 'long', steps: 150 })) as { result: { jobId: string } };
    const b = (await ask({ type: 'generate', prompt: 'queued', steps: 2 })) as { result: { jobId: string } };
    const c = (await ask({ type: 'generate', prompt: 'cancel me', steps: 2 })) as { result: { jobId: string } };
    await out.waitEvent('job.progress', (e) => e.jobId === a.result.jobId);
    workers[0]!.crash();
    await out.waitEvent('engine.status', (e) => e.state === 'crashed');
    // While the engine is down: status is answered locally, queued jobs can be cancelled.
    expect(await ask({ type: 'getStatus' })).toMatchObject({
      ok: true,
      result: { engine: 'crashed', jobs: [{ jobId: b.result.jobId }, { jobId: c.result.jobId }] },
    });
    expect(await ask({ type: 'cancel', jobId: c.result.jobId })).toMatchObject({ ok: true, result: { cancelled: true } });
    expect((await out.waitEvent('job.failed', (e) => e.jobId === a.result.jobId)).code).toBe('ENGINE_CRASHED');
    await out.waitEvent('engine.status', (e) => e.state === 'restarted');
    await out.waitEvent('job.result', (e) => e.jobId === b.result.jobId);
    expect(out.jobEvents(c.result.jobId).map((e) => e.type)).toEqual(['job.queued', 'job.cancelled']);
    expect(host.restarts).toBe(1);
    await host.stop();
  });

  it('a job the engine refuses (queue full) is answered QUEUE_FULL and not resubmitted after a crash', async () => {
    const { host, ask, out, workers } = setup({ maxQueuedJobs: 2 });
    await host.start();
    const running = (await ask({ type: 'generate', prompt: 'long', steps: 150 })) as { result: { jobId: string } };
    await out.waitEvent('job.started', (e) => e.jobId === running.result.jobId);
    const queued = [];
    for (const prompt of ['second', 'third'])
      queued.push(((await ask({ type: 'generate', prompt, steps: 1 })) as { result: { jobId: string } }).result.jobId);
    expect(await ask({ type: 'generate', prompt: 'one too many', steps: 1 })).toMatchObject({ ok: false, error: { code: 'QUEUE_FULL' } });
    workers[0]!.crash();
    await out.waitEvent('engine.status', (e) => e.state === 'crashed');
    const status = (await ask({ type: 'getStatus' })) as { result: { jobs: { jobId: string }[] } };
    expect(status.result.jobs.map((j) => j.jobId)).toEqual(queued);
    await out.waitEvent('engine.status', (e) => e.state === 'restarted');
    for (const id of queued) await out.waitEvent('job.result', (e) => e.jobId === id);
    await host.stop();
  });

  it('a request sent while the engine restarts waits for it instead of failing', async () => {
    const { host, ask, out, workers } = setup();
    await host.start();
    workers[0]!.crash();
    await out.waitEvent('engine.status', (e) => e.state === 'crashed');
    const r = await ask({ type: 'generate', prompt: 'during restart', steps: 1 });
    expect(r.ok).toBe(true);
    await out.waitEvent('job.result', (e) => e.jobId === (r as { result: { jobId: string } }).result.jobId);
    await host.stop();
  });

  it('gives up after repeated crashes and says so; requests then fail fast', async () => {
    const { host, ask, out } = setup({ failStart: () => true }, 2);
    await expect(host.start()).rejects.toThrow(/crashed 3 times/);
    const stopped = await out.waitEvent('engine.status', (e) => e.state === 'stopped' && e.message !== undefined);
    expect(stopped.message).toMatch(/not restarted/);
    expect(await ask({ type: 'listModels' })).toMatchObject({ ok: false, error: { code: 'ENGINE_STOPPED' } });
  });

  it('rejects invalid client messages before they reach the engine', async () => {
    const { host, conn, out } = setup();
    await host.start();
    conn.handle({ kind: 'request', id: 'x1', request: { type: 'generate', prompt: 1 } });
    conn.handle('{"kind":"request","id":"x2","request":{"type":"explode"}}');
    await out.waitResponse('x2');
    expect(out.events('error').map((e) => e.type === 'error' && e.code)).toEqual(['INVALID_MESSAGE', 'UNKNOWN_REQUEST']);
    expect(out.events().filter((e) => e.type.startsWith('job.'))).toEqual([]);
    await host.stop();
  });
});
