import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { FileSettingsStore, loadSettingsFile, parseStoredSettings, salvageJsonObject } from '../../../src/main/host/settings-store.js';
import { canMakeFifo, makeFifo, NO_FIFO } from '../engine/io/fs-fixtures.js';

describe('FileSettingsStore', () => {
  it('starts from defaults, persists patches atomically, reloads them', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'set-')), 'config.json');
    const a = new FileSettingsStore(file);
    expect(a.get()).toEqual(DEFAULT_SETTINGS);
    await a.set({ provider: 'cpu', libraryDir: '/tmp/lib', defaults: { invert: { preset: 'paper' } } });
    const b = new FileSettingsStore(file);
    expect(b.get().provider).toBe('cpu');
    expect(b.get().libraryDir).toBe('/tmp/lib');
    expect(b.get().defaults.invert.preset).toBe('paper');
    expect(JSON.parse(readFileSync(file, 'utf8')).provider).toBe('cpu');
    await expect(b.set({ defaults: { generate: { steps: 0 } } })).rejects.toThrow();
    expect(new FileSettingsStore(file).get().defaults.generate.steps).toBe(DEFAULT_SETTINGS.defaults.generate.steps);
  });

  it('keeps valid fields of a partly invalid or corrupt file', () => {
    const s = parseStoredSettings({ provider: 'tpu', modelSet: 'sd15', defaults: { generate: { steps: -3, seed: 9 } }, unknown: 1 });
    expect(s.provider).toBe('auto');
    expect(s.modelSet).toBe('sd15');
    expect(s.defaults.generate.seed).toBe(9);
    expect(s.defaults.generate.steps).toBe(DEFAULT_SETTINGS.defaults.generate.steps);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'set-')), 'config.json');
    writeFileSync(file, '{oops');
    expect(new FileSettingsStore(file).get()).toEqual(DEFAULT_SETTINGS);
  });

  it('moves a truncated file aside, keeps what it can read (the library folder), and tells the user', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'set-'));
    const file = path.join(dir, 'config.json');
    const full = JSON.stringify({ ...DEFAULT_SETTINGS, provider: 'cpu', libraryDir: '/data/my library', modelSet: 'sd15' }, null, 2);
    const cut = full.slice(0, full.indexOf('"offline"') + 5); // cut inside a key, after libraryDir
    writeFileSync(file, cut);
    const store = new FileSettingsStore(file);
    expect(store.get().libraryDir).toBe('/data/my library');
    expect(store.get().provider).toBe('cpu');
    expect(store.get().modelSet).toBe('sd15');
    const backups = readdirSync(dir).filter((f) => f.startsWith('config.json.corrupt-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(dir, backups[0]!), 'utf8')).toBe(cut);
    const [n] = store.notices();
    expect(n).toMatchObject({ source: 'settings', level: 'warning', movedTo: path.join(dir, backups[0]!) });
    expect(n!.message).toMatch(
      /was damaged \(it is not valid JSON.*moved to config\.json\.corrupt-.*Recovered: provider, modelSet, libraryDir/,
    );
    // The recovered settings are saved, so the next start sees them without another notice.
    const again = new FileSettingsStore(file);
    expect(again.get().libraryDir).toBe('/data/my library');
    expect(again.notices()).toEqual([]);
  });

  it('moves an invalid (schema) file aside too, keeping its valid fields', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'set-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ provider: 'tpu', libraryDir: '/lib' }));
    const state = loadSettingsFile(file);
    expect(state.settings.libraryDir).toBe('/lib');
    expect(state.settings.provider).toBe('auto');
    expect(state.movedTo && existsSync(state.movedTo)).toBe(true);
    expect(state.notices[0]!.message).toMatch(/some values are invalid \(provider/);
    expect(JSON.parse(readFileSync(file, 'utf8')).libraryDir).toBe('/lib');
  });

  it('never overwrites a settings path it could not read: a folder (was a raw EISDIR)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'set-'));
    const file = path.join(dir, 'config.json');
    mkdirSync(file);
    const store = new FileSettingsStore(file);
    expect(store.get()).toEqual(DEFAULT_SETTINGS);
    expect(store.notices()[0]).toMatchObject({ level: 'error' });
    expect(store.notices()[0]!.message).toMatch(/could not be read: it is a folder, not a settings file.*not overwritten/);
    await expect(store.set({ provider: 'cpu' })).rejects.toThrow(
      /settings were not saved: the settings file .*config\.json could not be read: it is a folder/,
    );
    expect(statSync(file).isDirectory()).toBe(true);
  });

  it.skipIf(!canMakeFifo)('does not open a FIFO in place of the settings file (it would block)' + NO_FIFO, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'set-'));
    const file = path.join(dir, 'config.json');
    makeFifo(file);
    const store = new FileSettingsStore(file);
    expect(store.get()).toEqual(DEFAULT_SETTINGS);
    await expect(store.set({ provider: 'cpu' })).rejects.toThrow(/not a regular file/);
    expect(statSync(file).isFIFO()).toBe(true);
  });
});

describe('salvageJsonObject', () => {
  it('keeps the complete leading fields of a cut object and nothing half-read', () => {
    expect(salvageJsonObject('{"a": 1, "b": {"c": true, "d": "x"}, "e": "cut')).toEqual({ a: 1, b: { c: true, d: 'x' } });
    expect(salvageJsonObject('{"a": "x", "n": 12')).toEqual({ a: 'x' });
    expect(salvageJsonObject('{"a": [1, 2')).toEqual({});
    expect(salvageJsonObject('{"a": null, "b": {"c": 1, "d')).toEqual({ a: null, b: { c: 1 } });
    expect(salvageJsonObject('not json')).toBeUndefined();
    expect(salvageJsonObject('{"ok": 1}')).toEqual({ ok: 1 });
  });
});
