import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FLORENCE2_CAPTIONS, writeFlorence2Fixture } from '../hf/florence2-fixture.js';
import { VIT_GPT2_CAPTIONS, writeVitGpt2Fixture } from '../hf/vit-gpt2-fixture.js';
import { captionerInstalled, captionImage, loadCaptioner, type RgbImage } from '../../../../src/main/engine/inversion/captioner.js';

/** A `width` x `height` image of colour `rgb` with a few off-colour stripes (so it is not flat). */
function image(rgb: [number, number, number], width = 96, height = 64): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const stripe = x % 16 < 3;
      for (let c = 0; c < 3; c++) data[o + c] = stripe ? 128 : rgb[c]!;
    }
  }
  return { data, width, height };
}

describe('captioner: not installed', () => {
  it('offline without the model: NOT_INSTALLED with install instructions and the --init hint', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-cap-none-'));
    try {
      expect(captionerInstalled('vit-gpt2', cacheDir)).toBe(false);
      await expect(loadCaptioner({ captioner: 'vit-gpt2', cacheDir, offline: true })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringMatching(/vit-gpt2-image-captioning.*models download vit-gpt2.*--init/s),
      });
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('captioner: half installed', () => {
  it('a folder without the ONNX files is NOT_INSTALLED naming them (checked before transformers.js reads it)', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-cap-half-'));
    try {
      const { dir } = await writeVitGpt2Fixture(cacheDir);
      await rm(path.join(dir, 'onnx'), { recursive: true });
      await expect(captionImage(image([220, 40, 30]), { captioner: 'vit-gpt2', cacheDir, offline: true })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringMatching(
          /incomplete \(missing onnx\/encoder_model\.onnx, onnx\/decoder_model_merged\.onnx\).*models download vit-gpt2/,
        ),
      });
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

// A generated Xenova/vit-gpt2-image-captioning stand-in (hf/testing/vit-gpt2-fixture.ts): the
// repo's files and ONNX I/O, with a colour-reading encoder and a decoder that writes the caption
// of the image's dominant colour.
describe.each(['hub', 'manifest'] as const)('ViT-GPT2 captioner on a fixture (%s layout)', (layout) => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), `is-cap-${layout}-`));
    await writeVitGpt2Fixture(cacheDir, { layout });
  });
  afterAll(async () => {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('captions through the transformers.js image-to-text pipeline, and the caption follows the image', async () => {
    expect(captionerInstalled('vit-gpt2', cacheDir)).toBe(true);
    const captioner = await loadCaptioner({ captioner: 'vit-gpt2', cacheDir, offline: true });
    expect(await captioner.caption(image([220, 40, 30]))).toBe(VIT_GPT2_CAPTIONS.red);
    // Non-square: transformers.js alone would hand the 224x224 encoder a 93x224 image.
    expect(await captioner.caption(image([20, 60, 230], 50, 120))).toBe(VIT_GPT2_CAPTIONS.blue);
    expect(await captioner.caption(image([30, 200, 40]))).toBe(VIT_GPT2_CAPTIONS.green);
  });

  it('captionImage respects maxNewTokens (the caption is cut, not wrong)', async () => {
    const text = await captionImage(image([220, 40, 30]), { captioner: 'vit-gpt2', cacheDir, offline: true, maxNewTokens: 3 });
    expect(text).toBe(VIT_GPT2_CAPTIONS.red.split(' ').slice(0, 3).join(' '));
  });
});

// A generated onnx-community/Florence-2-base-ft stand-in (hf/testing/florence2-fixture.ts): the
// repo's four ONNX files with the export's I/O, BART-layout tokenizer, Florence2Processor config.
describe.each(['hub', 'manifest'] as const)('Florence-2 captioner on a fixture (%s layout)', (layout) => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), `is-flo-${layout}-`));
    await writeFlorence2Fixture(cacheDir, { layout });
  });
  afterAll(async () => {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('captions with the <CAPTION> task through Florence2ForConditionalGeneration, following the image', async () => {
    expect(captionerInstalled('florence2', cacheDir)).toBe(true);
    const captioner = await loadCaptioner({ captioner: 'florence2', cacheDir, offline: true });
    expect(await captioner.caption(image([220, 40, 30]))).toBe(FLORENCE2_CAPTIONS.red);
    expect(await captioner.caption(image([20, 60, 230], 50, 120))).toBe(FLORENCE2_CAPTIONS.blue);
    expect(await captioner.caption(image([30, 200, 40]))).toBe(FLORENCE2_CAPTIONS.green);
  });
});
