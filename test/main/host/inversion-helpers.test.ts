import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeClipVisionFixture } from '../engine/hf/clip-vision-fixture.js';
import { writeFlorence2Fixture } from '../engine/hf/florence2-fixture.js';
import { writeGpt2Fixture } from '../engine/hf/gpt2-fixture.js';
import { writeVitGpt2Fixture } from '../engine/hf/vit-gpt2-fixture.js';
import { InversionHelperCache } from '../../../src/main/host/inversion-helpers.js';

const cache = mkdtempSync(path.join(os.tmpdir(), 'inv-helpers-'));
const helpers = new InversionHelperCache();
afterAll(async () => {
  await helpers.dispose();
  rmSync(cache, { recursive: true, force: true });
});

describe('InversionHelperCache', () => {
  it('uses what is installed, in either cache layout, and loads CLIP and GPT-2 once', async () => {
    expect(await helpers.resolve(cache)).toEqual({ warnings: [] });

    // What `models download` writes (manifest layout) and copied hub folders both count.
    await writeVitGpt2Fixture(cache, { layout: 'manifest' });
    await writeClipVisionFixture(cache);
    await writeGpt2Fixture(cache, { layout: 'manifest' });
    const a = await helpers.resolve(cache);
    expect(a.captioner).toBe('vit-gpt2');
    expect(a.scorer?.name).toBe('clip');
    expect(a.lm?.name).toBe('Xenova/gpt2');
    const img = { data: new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i)), width: 64, height: 64 };
    expect(await a.scorer!.score(img, img)).toBeCloseTo(1, 5);
    expect((await a.lm!.nextWords('a red', 3)).length).toBeGreaterThan(0);

    // Florence-2 is preferred once present; the loaded CLIP and GPT-2 are reused.
    await writeFlorence2Fixture(cache);
    const b = await helpers.resolve(cache);
    expect(b.captioner).toBe('florence2');
    expect(b.scorer).toBe(a.scorer);
    expect(b.lm).toBe(a.lm);
    const cap = await helpers.loadCaptioner(cache, 'florence2');
    expect(await helpers.loadCaptioner(cache, 'florence2')).toBe(cap);
    const red = new Uint8Array(64 * 64 * 3).map((_, i) => (i % 3 === 0 ? 230 : 20));
    expect(await cap.caption({ data: red, width: 64, height: 64 })).toMatch(/red/);
  }, 120_000);

  it('leaves out an installed helper that cannot be loaded, with a warning, instead of failing', async () => {
    const broken = mkdtempSync(path.join(os.tmpdir(), 'inv-helpers-broken-'));
    const own = new InversionHelperCache();
    try {
      const { dir } = await writeClipVisionFixture(broken);
      rmSync(path.join(dir, 'onnx'), { recursive: true, force: true });
      const r = await own.resolve(broken);
      expect(r.scorer).toBeUndefined();
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toMatch(/incomplete|not installed/);
      expect(r.warnings[0]).toMatch(/ranked by pixel MSE/);
    } finally {
      await own.dispose();
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
