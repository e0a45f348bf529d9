/**
 * The baselines in the studio on the real engine with the demo set: which methods it can run
 * (PH2P yes: the demo set has a VAE encoder; PEZ and the caption no: no CLIP text tower, no
 * captioner), an inversion with PH2P through the invert request's `method`, and the reasons.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { methodsAvailable } from '../../../src/main/engine/inversion/methods/availability.js';
import { createRealEngine } from '../../../src/main/host/real-engine.js';
import { methodInfo } from '../../../src/main/host/real-methods.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { testCacheDir } from '../engine/models/demo/demo-cache.js';

const engine = createRealEngine();
engine.configure({ ...DEFAULT_SETTINGS, cacheDir: testCacheDir(), provider: 'cpu' });
afterAll(() => engine.dispose?.());

describe('inversion methods in the studio', () => {
  it('says, from the files, which methods a model set can run and what the others need', async () => {
    const demo = await methodInfo('demo', testCacheDir());
    expect(demo.map((m) => [m.method, m.available])).toEqual([
      ['editor', true],
      ['ph2p', true],
      ['pez', false],
      ['caption', false],
    ]);
    expect(demo[2]!.reason).toMatch(/PEZ needs a CLIP.*clip-vit-l14/);
    expect(demo[3]!.reason).toMatch(/captioner/);
    const none = await methodInfo(path.join(os.tmpdir(), 'no-such-model-set-here'), testCacheDir());
    expect(none.every((m) => !m.available && /not available/.test(m.reason ?? ''))).toBe(true);
    expect(methodsAvailable({ vaeEncoder: true, clip: true, captioner: true })).toEqual({
      editor: undefined,
      ph2p: undefined,
      pez: undefined,
      caption: undefined,
    });
    expect(methodsAvailable({ vaeEncoder: false, clip: true, captioner: true }).ph2p).toMatch(/VAE encoder/);
  }, 300_000);

  it('a set folder with its own captioner and world CLIP makes the caption and PEZ available', async () => {
    const { findMethodFiles } = await import('../../../src/main/engine/inversion/methods/availability.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'method-files-'));
    mkdirSync(path.join(dir, 'clip'), { recursive: true });
    writeFileSync(path.join(dir, 'clip', 'config.json'), '{}');
    const files = await findMethodFiles(dir, path.join(dir, 'empty-cache'));
    expect(files).toEqual({ vaeEncoder: false, clip: true, captioner: false });
  });

  it('inverts with PH2P through the invert request: hard tokens, its objective, the answer regenerated', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 40, b: 40 } } })
      .png()
      .toBuffer();
    const phases: string[] = [];
    const out = await engine.invert(
      { image: png, preset: 'fast', iterations: 2, seed: 3, modelSet: 'demo', method: 'ph2p' },
      { onProgress: (p) => phases.push(p.phase) },
    );
    expect(out).toMatchObject({ method: 'ph2p', objective: 'denoise', iterations: 2 });
    expect(out.prompt.length).toBeGreaterThan(0);
    expect(out.candidates[0]!.prompt).toBe(out.prompt);
    expect(out.candidates[0]!.png!.subarray(1, 4).toString()).toBe('PNG');
    expect(phases).toEqual(expect.arrayContaining(['refining', 'regenerating']));
    await expect(engine.invert({ image: png, preset: 'fast', seed: 0, modelSet: 'demo', method: 'pez' }, {})).rejects.toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringMatching(/PEZ needs a CLIP/),
    });
  }, 600_000);
});
