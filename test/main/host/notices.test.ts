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
import { FileSettingsStore } from '../../../src/main/host/settings-store.js';
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
    expect(noticeEvent(n)).toMatchObject({ type: 'notice', source: 'library', message: 'index rebuilt', at: n.at });
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
});
