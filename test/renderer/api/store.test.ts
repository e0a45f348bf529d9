import { describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../../src/shared/api.js';
import type { LibraryItem } from '../../../src/shared/ipc/library.js';
import type { InvertResult } from '../../../src/shared/ipc/jobs.js';
import { AttentionStore, EngineStore, JobStore, NoticeStore } from '../../../src/renderer/api/store.js';
import type { StudioApi } from '../../../src/shared/api.js';

const item: LibraryItem = {
  kind: 'inversion',
  id: 'inv1',
  createdAt: '2026-01-01T00:00:00Z',
  file: 'inv1.png',
  width: 64,
  height: 64,
  inversion: {
    prompt: 'a cat',
    initialPrompt: 'a photo',
    candidates: [{ prompt: 'a cat', score: 0.5, iteration: 3 }],
    loss: [3, 2, 1],
    iterations: 3,
    seconds: 1,
    preset: 'fast',
    objective: 'pixel',
    model: 'demo',
    targetFile: 'inv1-target.png',
    partial: true,
  },
};
const partial: InvertResult = {
  kind: 'invert',
  item,
  prompt: 'a cat',
  initialPrompt: 'a photo',
  candidates: [{ prompt: 'a cat', score: 0.5, iteration: 3 }],
  loss: [3, 2, 1],
  iterations: 3,
  seconds: 1,
  warnings: [],
};

describe('JobStore', () => {
  it('follows a job from queued to cancelled, keeping loss, iterations and the partial result', () => {
    const s = new JobStore();
    const events: StudioEvent[] = [
      { type: 'job.queued', jobId: 'j1', kind: 'invert', label: 'cat.png', position: 0 },
      { type: 'job.started', jobId: 'j1', kind: 'invert' },
      { type: 'job.progress', jobId: 'j1', progress: { phase: 'encoding', step: 0, total: 1 } },
      { type: 'job.progress', jobId: 'j1', progress: { phase: 'refining', step: 1, total: 100, loss: 3 } },
      {
        type: 'job.progress',
        jobId: 'j1',
        progress: { phase: 'refining', step: 2, total: 100, loss: 2, previewPng: 'data:image/png;base64,AAAA' },
      },
      { type: 'job.progress', jobId: 'j1', progress: { phase: 'ranking', step: 0, total: 1 } },
    ];
    for (const e of events) s.handle(e);
    let j = s.get().get('j1')!;
    expect(j.state).toBe('running');
    expect(j.loss).toEqual([3, 2]);
    expect(j.iterations).toEqual({ step: 2, total: 100 });
    expect(j.preview).toMatch(/^data:image\/png/);
    expect(s.busy()?.jobId).toBe('j1');

    s.handle({ type: 'job.cancelled', jobId: 'j1', partial });
    j = s.get().get('j1')!;
    expect(j.state).toBe('cancelled');
    expect(j.partial).toBe(partial);
    expect(j.loss).toEqual([3, 2, 1]); // the partial result's full curve
    expect(s.busy()).toBeUndefined();
  });

  it('never moves a finished job back to running (late progress, stale snapshots)', () => {
    const s = new JobStore();
    s.handle({ type: 'job.failed', jobId: 'j2', code: 'ENGINE_CRASHED', message: 'engine died' });
    s.handle({ type: 'job.progress', jobId: 'j2', progress: { phase: 'refining', step: 5, total: 10 } });
    s.seed([{ jobId: 'j2', kind: 'invert', state: 'running', label: 'x' }]);
    expect(s.get().get('j2')!.state).toBe('failed');
    expect(s.get().get('j2')!.error?.code).toBe('ENGINE_CRASHED');
  });

  it('notifies subscribers with a new snapshot on each change', () => {
    const s = new JobStore();
    const snaps: unknown[] = [];
    s.subscribe(() => snaps.push(s.get()));
    s.handle({ type: 'job.started', jobId: 'j3', kind: 'generate' });
    s.handle({ type: 'engine.status', state: 'ready', restarts: 0 });
    expect(snaps).toHaveLength(1);
  });
});

describe('EngineStore', () => {
  it('raises a banner on crash/restart and clears it on dismiss', () => {
    const e = new EngineStore();
    e.handle({ type: 'engine.status', state: 'crashed', restarts: 0 });
    expect(e.get().banner).toMatch(/restarting/);
    e.handle({ type: 'engine.status', state: 'restarted', restarts: 1, message: 'restarted after a crash' });
    expect(e.get()).toMatchObject({ state: 'restarted', restarts: 1, banner: 'restarted after a crash' });
    e.dismiss();
    expect(e.get().banner).toBeUndefined();
  });
});

describe('NoticeStore', () => {
  it('shows the notices still relevant when connecting and new ones, once each; dismissing tells the host', async () => {
    const dismissed: string[] = [];
    const n1 = {
      id: 'n-1',
      source: 'settings' as const,
      level: 'warning' as const,
      message: 'moved',
      movedTo: '/d/c.json.corrupt',
      at: 't',
    };
    const api = {
      listNotices: async () => ({ notices: [n1] }),
      dismissNotice: async (id: string) => {
        dismissed.push(id);
        return { dismissed: true };
      },
    } as unknown as StudioApi;
    const store = new NoticeStore(api);
    store.handle({ type: 'notice', ...n1 }); // the event sent on connecting, and listNotices: one banner
    await store.load();
    store.handle({ type: 'notice', id: 'n-2', source: 'library', level: 'error', message: 'index rebuilt', at: 't' });
    expect(store.get().map((n) => n.id)).toEqual(['n-1', 'n-2']);
    await store.dismiss('n-1');
    expect(dismissed).toEqual(['n-1']);
    store.handle({ type: 'notice.dismissed', id: 'n-2' }); // dismissed in another window
    expect(store.get()).toEqual([]);
  });
});

describe('AttentionStore', () => {
  it('runs one segment job per image key and keeps its maps; a failure is shown, and forgetting retries', async () => {
    const asked: unknown[] = [];
    let next = 0;
    const api = {
      segment: async (p: unknown) => {
        asked.push(p);
        return { jobId: `job-${++next}` };
      },
    } as unknown as StudioApi;
    const store = new AttentionStore(api);
    const params = { image: { source: 'library' as const, id: 'g1' } };
    await Promise.all([store.request('k', params), store.request('k', params)]);
    expect(asked).toHaveLength(1);
    expect(store.get().get('k')).toEqual({ jobId: 'job-1' });
    const maps = {
      width: 1,
      height: 1,
      imageWidth: 8,
      imageHeight: 8,
      threshold: 0.4,
      words: [],
      id: 'seg-1',
      prompt: 'x',
      source: 'noising' as const,
    };
    store.handle({ type: 'job.result', jobId: 'job-1', result: { kind: 'segment', maps, source: 'noising', seconds: 1, warnings: [] } });
    expect(store.get().get('k')).toEqual({ maps });
    await store.request('k', params);
    expect(asked).toHaveLength(1);

    await store.request('other', params);
    store.handle({ type: 'job.failed', jobId: 'job-2', code: 'NOT_INSTALLED', message: 'no vae_encoder' });
    expect(store.get().get('other')?.error).toBe('no vae_encoder (NOT_INSTALLED)');
    store.forget('other');
    await store.request('other', params);
    expect(asked).toHaveLength(3);
  });
});
