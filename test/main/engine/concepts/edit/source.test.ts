import { describe, expect, it } from 'vitest';
import { schedulerFromLabel, sourceParameters } from '../../../../../src/main/engine/concepts/edit/source.js';
import { imageToPng } from '../../../../../src/main/engine/image/image-io.js';

const pixels = new Float32Array(3 * 8 * 8);

describe('sourceParameters', () => {
  it('reads our generation record', async () => {
    const json = {
      app: 'inversion-studio',
      prompt: 'a red fox',
      negativePrompt: 'blurry',
      seed: 3,
      steps: 4,
      scheduler: 'lms',
      guidance: 6,
      width: 8,
      height: 8,
      model: 'demo',
      conditioning: 'text',
      rng: 'x',
    };
    const s = sourceParameters(await imageToPng(pixels, 8, 8, { json, parameters: 'ignored\nSteps: 1, Sampler: DDIM, Seed: 9' }));
    expect(s.from).toBe('record');
    expect(s.params).toEqual({
      prompt: 'a red fox',
      negativePrompt: 'blurry',
      seed: 3,
      steps: 4,
      scheduler: 'lms',
      guidance: 6,
      width: 8,
      height: 8,
      model: 'demo',
      kind: 'generation',
    });
    expect(s.embeddingConditioned).toBeUndefined();
    const emb = sourceParameters(await imageToPng(pixels, 8, 8, { json: { ...json, conditioning: 'embedding', edit: {} } }));
    expect(emb).toMatchObject({ embeddingConditioned: true, isEdit: true });
  });

  it('reads A1111 parameters (no model: its names are not ours)', async () => {
    const s = sourceParameters(
      await imageToPng(pixels, 8, 8, {
        parameters:
          'a cat, (hat:1.2)\nNegative prompt: ugly\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768, Model: v1-5',
      }),
    );
    expect(s.from).toBe('a1111');
    expect(s.params).toEqual({
      prompt: 'a cat, (hat:1.2)',
      negativePrompt: 'ugly',
      seed: 42,
      steps: 20,
      guidance: 7,
      width: 512,
      height: 768,
    });
  });

  it('says nothing for PNGs without parameters and for other formats', async () => {
    expect(sourceParameters(await imageToPng(pixels, 8, 8))).toEqual({ params: {}, from: 'none' });
    expect(sourceParameters(new Uint8Array([0xff, 0xd8, 0xff]))).toEqual({ params: {}, from: 'none' });
  });
});

describe('schedulerFromLabel', () => {
  it('maps A1111 sampler labels to our schedulers', () => {
    expect(schedulerFromLabel('DDIM')).toBe('ddim');
    expect(schedulerFromLabel('LMS')).toBe('lms');
    expect(schedulerFromLabel('Euler')).toBe('euler');
    expect(schedulerFromLabel('DPM++ 2M Karras')).toBeUndefined();
  });
});
