import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { FileSettingsStore, parseStoredSettings } from '../../../src/main/host/settings-store.js';

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
});
