import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineHost, type WorkerHandle } from '../../../src/main/host/engine-host.js';
import {
  formatNotice,
  makeNotice,
  noticeEvent,
  onNotice,
  publishNotice,
  recentNotices,
  type StudioNotice,
} from '../../../src/main/host/notices.js';
import { FileSettingsStore, MemorySettingsStore } from '../../../src/main/host/settings-store.js';
import { Collector } from './collector.js';
import type { WorkerToHost } from '../../../src/main/host/worker-protocol.js';

/** A worker that is ready at once and lets the test send it messages "from the engine". */
function scriptedWorker(): { launch: () => WorkerHandle; emit: (m: WorkerToHost) => void } {
  let handler: (m: WorkerToHost) => void = () => {};
  const exits: Array<(c: number | null, s: string | null) => void> = [];
  return {
    emit: (m) => handler(m),
    launch: () => ({
      pid: 1,
      send: (msg) => {
        if (msg.kind === 'configure') setTimeout(() => handler({ kind: 'ready', capabilities: [], pid: 1 }), 1);
      },
      onMessage: (h) => {
        handler = h;
      },
      onExit: (h) => void exits.push(h),
      kill: () => exits.splice(0).forEach((h) => h(0, null)),
    }),
  };
}

describe('notices', () => {
  it('are kept and passed to listeners in this process', () => {
    const seen: StudioNotice[] = [];
    const off = onNotice((n) => seen.push(n));
    const n = publishNotice({ source: 'library', level: 'warning', message: 'index rebuilt' });
    off();
    publishNotice({ source: 'library', level: 'warning', message: 'after unsubscribe' });
    expect(seen).toEqual([n]);
    expect(recentNotices().map((x) => x.message)).toEqual(expect.arrayContaining(['index rebuilt', 'after unsubscribe']));
    expect(formatNotice(n)).toBe('warning: index rebuilt');
    expect(noticeEvent(n)).toMatchObject({ type: 'notice', id: n.id, source: 'library', message: 'index rebuilt', at: n.at });
    expect(n.id).toMatch(/^n-[a-z0-9]+-[0-9a-f]{8}$/);
    expect(makeNotice({ source: 'settings', level: 'error', message: 'x', file: '' })).not.toHaveProperty('file');
  });

  it('reach the host: from the settings store at start and from the worker (the library), each once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'notices-'));
    writeFileSync(path.join(dir, 'config.json'), '{"libraryDir": "/x", "provi');
    const settings = new FileSettingsStore(path.join(dir, 'config.json'));
    const w = scriptedWorker();
    const got: StudioNotice[] = [];
    const host = new EngineHost({ launch: w.launch, settings, libraryDir: () => dir, transport: 'web', onNotice: (n) => got.push(n) });
    await host.start();
    const fromWorker = makeNotice({ source: 'library', level: 'warning', message: 'The library index was damaged; rebuilt.' });
    w.emit({ kind: 'notice', notice: fromWorker });
    w.emit({ kind: 'notice', notice: fromWorker }); // duplicates (a resend after a restart) are dropped
    expect(got.map((n) => n.source)).toEqual(['settings', 'library']);
    expect(got[0]!.message).toMatch(/settings file .* was damaged.*Recovered: libraryDir/);
    expect(host.notices()).toEqual(got);
    await host.stop();
  });

  it('go to every client as notice events, also to one that connects later, until dismissed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'notices-'));
    writeFileSync(path.join(dir, 'config.json'), '{"libraryDir": "/x", "provi');
    const w = scriptedWorker();
    const host = new EngineHost({
      launch: w.launch,
      settings: new FileSettingsStore(path.join(dir, 'config.json')),
      libraryDir: () => dir,
      transport: 'web',
    });
    await host.start();
    const early = new Collector();
    const c1 = host.connect(early.send);
    const [settingsNotice] = early.events('notice');
    expect(settingsNotice).toMatchObject({
      type: 'notice',
      source: 'settings',
      level: 'warning',
      movedTo: expect.stringMatching(/corrupt/),
    });
    w.emit({
      kind: 'notice',
      notice: makeNotice({ source: 'library', level: 'warning', message: 'index rebuilt', file: path.join(dir, 'index.json') }),
    });
    expect(early.events('notice').map((e) => e.type === 'notice' && e.source)).toEqual(['settings', 'library']);

    const late = new Collector();
    const c2 = host.connect(late.send);
    expect(late.events('notice')).toEqual(early.events('notice'));
    c2.handle({ kind: 'request', id: 'l1', request: { type: 'listNotices' } });
    expect((await late.waitResponse('l1')) as unknown).toMatchObject({
      ok: true,
      result: { notices: [{ source: 'settings' }, { source: 'library' }] },
    });

    const id = (settingsNotice as { id: string }).id;
    c2.handle({ kind: 'request', id: 'd1', request: { type: 'dismissNotice', id } });
    expect(await late.waitResponse('d1')).toMatchObject({ ok: true, result: { dismissed: true } });
    expect(early.events('notice.dismissed')).toEqual([{ type: 'notice.dismissed', id }]);
    c2.handle({ kind: 'request', id: 'd2', request: { type: 'dismissNotice', id } });
    expect(await late.waitResponse('d2')).toMatchObject({ ok: true, result: { dismissed: false } });
    const later = new Collector();
    host.connect(later.send);
    expect(later.events('notice').map((e) => e.type === 'notice' && e.source)).toEqual(['library']);
    c1.close();
    await host.stop();
  });

  it("a library's notices go when another library folder is used", async () => {
    const w = scriptedWorker();
    const host = new EngineHost({
      launch: w.launch,
      settings: new MemorySettingsStore(),
      libraryDir: (s) => s.libraryDir ?? '/lib/one',
      transport: 'web',
    });
    await host.start();
    const out = new Collector();
    const c = host.connect(out.send);
    w.emit({
      kind: 'notice',
      notice: makeNotice({ source: 'library', level: 'warning', message: 'rebuilt one', file: '/lib/one/index.json' }),
    });
    w.emit({
      kind: 'notice',
      notice: makeNotice({ source: 'library', level: 'warning', message: 'about two', file: '/lib/two/index.json' }),
    });
    c.handle({ kind: 'request', id: 's1', request: { type: 'setSettings', patch: { libraryDir: '/lib/two' } } });
    await out.waitResponse('s1');
    await out.waitEvent('notice.dismissed');
    expect(host.notices().map((n) => n.message)).toEqual(['about two']);
    await host.stop();
  });
});
