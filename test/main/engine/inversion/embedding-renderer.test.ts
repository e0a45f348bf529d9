import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../../src/main/engine/diffusion/pipeline.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { inversionModelsFromSet } from '../../../../src/main/engine/inversion/from-model-set.js';
import type { InversionModels } from '../../../../src/main/engine/inversion/inversion-models.js';
import { createRenderer } from '../../../../src/main/engine/inversion/embedding-renderer.js';

// The inversion's forward pass must be the image generate() makes from the same prompt and
// settings: otherwise the objective optimises towards something the artist never sees.
describe('inversion renderer on the demo set', () => {
  let ms: ModelSet;
  let m: InversionModels;
  beforeAll(async () => {
    ms = await loadModelSet('demo', { cacheDir: testCacheDir() });
    m = await inversionModelsFromSet(ms);
  });
  afterAll(async () => ms?.release());

  for (const [scheduler, guidance] of [
    ['lms', 7.5],
    ['ddim', 1],
  ] as const) {
    it(`matches generate() for 5-step ${scheduler}, guidance ${guidance}`, async () => {
      const prompt = 'a red boat on a calm lake';
      const size = 128;
      const g = await generate(ms, { prompt, seed: 3, steps: 5, scheduler, guidance, width: size, height: size });
      const { embedding: c } = await m.encodePrompt(prompt);
      const { embedding: uncond } = await m.encodePrompt('');
      const r = await createRenderer(m, { width: size, height: size, steps: 5, scheduler, guidance, seed: 3, uncond });
      const img = await r.render(c);
      await r.release();
      let maxErr = 0;
      // generate() clamps to [-1, 1] for display; compare on the same range.
      for (let i = 0; i < img.length; i++) maxErr = Math.max(maxErr, Math.abs(Math.max(-1, Math.min(1, img[i]!)) - g.image[i]!));
      expect(maxErr).toBeLessThan(1e-3);
    });
  }
});
