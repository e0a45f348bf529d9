import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isStaleTemp,
  PROCESS_START_MS,
  sweepStaleTemps,
  sweepStaleTempsSync,
  tempWriterPid,
} from '../../../../src/main/engine/io/temp-files.js';
import { deadPid } from './fs-fixtures.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'is-temp-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const old = new Date(PROCESS_START_MS - 60_000);

describe('temp file names', () => {
  it('recognises our patterns and reads the writer pid', () => {
    expect(tempWriterPid('.index.json.1234-0a1b2c3d.tmp')).toBe(1234);
    expect(tempWriterPid('.a1.png.99.deadbeef.tmp')).toBe(99); // the library's earlier naming
    expect(tempWriterPid('.inversion-studio-4321-abc123xy.onnx')).toBe(4321);
    expect(tempWriterPid('.inversion-studio-4321-abc123xy.onnx.data')).toBe(4321);
    expect(tempWriterPid('session-77-AbC123')).toBe(77);
    expect(tempWriterPid('.demo-tmp-5-00ff')).toBe(5);
    expect(tempWriterPid('sd15.import-6-1700000000000')).toBe(6);
    for (const other of ['index.json', 'photo.tmp', '.hidden', 'a.png', 'model.onnx', 'x.1234-0a1b2c3d.tmp'])
      expect(tempWriterPid(other)).toBeUndefined();
  });

  it('is stale only for another, dead (or ancient) writer, from before this process', () => {
    const alive = () => true;
    const dead = () => false;
    expect(isStaleTemp(process.pid, 0)).toBe(false);
    expect(isStaleTemp(42, old.getTime(), { isAlive: dead })).toBe(true);
    expect(isStaleTemp(42, old.getTime(), { isAlive: alive })).toBe(false);
    expect(isStaleTemp(42, Date.now() + 1000, { isAlive: dead })).toBe(false); // written after we started
    expect(isStaleTemp(42, old.getTime() - 25 * 3600_000, { isAlive: alive })).toBe(true); // pid reused
  });
});

describe('sweepStaleTemps', () => {
  it('removes leftovers of dead writers (files and folders) and keeps everything else', async () => {
    const dir = path.join(root, 'sweep');
    mkdirSync(dir);
    const dead = deadPid();
    const stale = [`.index.json.${dead}-0a1b2c3d.tmp`, `.inversion-studio-${dead}-abcd1234.onnx`];
    const keep = ['index.json', 'a.png', `.index.json.${process.pid}-0a1b2c3d.tmp`, 'notes.tmp'];
    for (const f of [...stale, ...keep]) writeFileSync(path.join(dir, f), 'x');
    mkdirSync(path.join(dir, `session-${dead}-Xy12ab`));
    writeFileSync(path.join(dir, `session-${dead}-Xy12ab`, 'model.onnx'), 'x');
    for (const f of [...stale, `session-${dead}-Xy12ab`, ...keep]) utimesSync(path.join(dir, f), old, old);
    const removed = await sweepStaleTemps(dir);
    expect(removed.sort()).toEqual([...stale, `session-${dead}-Xy12ab`].sort());
    expect(readdirSync(dir).sort()).toEqual([...keep].sort());
    expect(await sweepStaleTemps(path.join(root, 'missing'))).toEqual([]);
    writeFileSync(path.join(dir, `.c.json.${dead}-11112222.tmp`), 'x');
    utimesSync(path.join(dir, `.c.json.${dead}-11112222.tmp`), old, old);
    expect(sweepStaleTempsSync(dir)).toEqual([`.c.json.${dead}-11112222.tmp`]);
  });
});

describe('trackTempPath', () => {
  it('removes tracked paths when the process exits', () => {
    const dir = path.join(root, 'exit');
    mkdirSync(dir);
    const file = path.join(dir, 'tracked.tmp');
    const kept = path.join(dir, 'untracked.tmp');
    const mod = pathToFileURL(path.resolve('src/main/engine/io/temp-files.ts')).href;
    const script = `
      import { writeFileSync } from 'node:fs';
      const { trackTempPath } = await import(${JSON.stringify(mod)});
      writeFileSync(${JSON.stringify(file)}, 'x'); trackTempPath(${JSON.stringify(file)});
      writeFileSync(${JSON.stringify(kept)}, 'x'); trackTempPath(${JSON.stringify(kept)})();
      process.exit(3);`;
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(3);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(kept)).toBe(true);
  });
});
