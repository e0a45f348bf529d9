import { describe, expect, it } from 'vitest';
import type { ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { validateGenerateRequest } from '../../../../src/main/engine/diffusion/pipeline.js';
import {
  checkImageSize,
  estimateJobBytes,
  ImageTooLargeError,
  maxImagePixels,
  memoryBudgetBytes,
  parseByteSize,
  sizeLimitModel,
  sizeLimitModelForInversion,
} from '../../../../src/main/engine/diffusion/size-limits.js';

const GiB = 2 ** 30;
const sd15 = { name: 'sd15', nativeSize: 512, activationBytes: 4 };
const demo = { name: 'demo', nativeSize: 256, activationBytes: 4 };

describe('image size bound', () => {
  it('follows the documented formula (36 B x T^2, T = W/8 * H/8; x3 to invert; fp16 half)', () => {
    expect(estimateJobBytes(sd15, 1024, 1024, 'generate')).toBe(36 * 16384 ** 2); // ~9.7 GB: the measured 9.4 GB
    expect(estimateJobBytes(sd15, 512, 512, 'invert')).toBe(3 * 36 * 4096 ** 2);
    expect(estimateJobBytes({ activationBytes: 2 }, 512, 512, 'generate')).toBe(18 * 4096 ** 2);
  });

  it('allows at most 4x the native pixels, and less when memory is short', () => {
    const plenty = 1000 * GiB;
    expect(maxImagePixels(sd15, 'generate', plenty)).toBe(1024 * 1024);
    expect(maxImagePixels(demo, 'generate', plenty)).toBe(512 * 512);
    // 2 GiB: T = sqrt(2 GiB / 36) ~ 7723 latent positions ~ 703x703 pixels.
    expect(Math.sqrt(maxImagePixels(sd15, 'generate', 2 * GiB))).toBeCloseTo(703, 0);
    expect(maxImagePixels(sd15, 'invert', 2 * GiB)).toBeLessThan(maxImagePixels(sd15, 'generate', 2 * GiB));
  });

  it('throws a clear TOO_LARGE error naming the limit and its reason', () => {
    expect(() => checkImageSize(sd15, 1024, 1024, 'generate', { budgetBytes: 1000 * GiB })).not.toThrow();
    const byNative = (() => {
      try {
        checkImageSize(sd15, 2048, 2048, 'generate', { budgetBytes: 1000 * GiB });
      } catch (e) {
        return e;
      }
    })();
    expect(byNative).toBeInstanceOf(ImageTooLargeError);
    expect((byNative as ImageTooLargeError).code).toBe('TOO_LARGE');
    expect((byNative as Error).message).toMatch(
      /2048x2048 is too large to generate with sd15: at most 1,048,576 pixels \(e\.g\. 1024x1024\), because model set sd15 works at 512x512/,
    );
    expect(() => checkImageSize(sd15, 1024, 1024, 'generate', { budgetBytes: 4 * GiB })).toThrow(
      /needs about 9\.0 GiB of working memory and 4\.0 GiB is available to it \(set INVERSION_STUDIO_MEMORY_BUDGET/,
    );
  });

  it('reads the budget from INVERSION_STUDIO_MEMORY_BUDGET, else 75% of the available memory', () => {
    expect(parseByteSize('24G')).toBe(24 * GiB);
    expect(parseByteSize('8192M')).toBe(8 * GiB);
    expect(parseByteSize('1e9')).toBe(1e9);
    expect(parseByteSize('lots')).toBeUndefined();
    expect(memoryBudgetBytes({ INVERSION_STUDIO_MEMORY_BUDGET: '3GiB' })).toBe(3 * GiB);
    expect(memoryBudgetBytes({}, 8 * GiB)).toBe(6 * GiB);
  });

  it('applies to generate() before anything is allocated, and describes inversion models too', () => {
    const ms = {
      name: 'sd15',
      defaults: { width: 512, height: 512 },
      io: { unetType: 'float32', sizeMultiple: 8, sequenceLength: 77, hiddenSize: 768 },
    } as unknown as ModelSet;
    expect(sizeLimitModel(ms)).toEqual(sd15);
    const req = { prompt: 'a fox', seed: 0, steps: 1, scheduler: 'ddim' as const, guidance: 7.5 };
    expect(() => validateGenerateRequest(ms, { ...req, width: 4096, height: 4096 })).toThrow(ImageTooLargeError);
    expect(() => validateGenerateRequest(ms, { ...req, width: 4096, height: 4096 })).toThrow(/too large to generate with sd15/);
    expect(() => validateGenerateRequest(ms, { ...req, width: 512, height: 512 })).not.toThrow();
    const inv = { name: 'x', defaultSize: 256, unet: { graph: { inputs: [{ name: 'sample', dtype: 10 }] } } };
    expect(sizeLimitModelForInversion(inv)).toEqual({ name: 'x', nativeSize: 256, activationBytes: 2 });
  });
});
