import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, EngineError } from '../../../../src/main/engine/errors.js';
import { readPngMetadata } from '../../../../src/main/engine/image/image-io.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import {
  decodeLatents,
  encodeImage,
  encodePrompt,
  generate,
  initialNoise,
  type GenerateCancelled,
  type GenerateProgress,
  type GenerateRequest,
} from '../../../../src/main/engine/diffusion/pipeline.js';
import { gaussian } from '../../../../src/main/engine/diffusion/rng.js';

let ms: ModelSet;
beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu' });
}, 120_000);
afterAll(async () => {
  await ms?.release();
});

const base: GenerateRequest = {
  prompt: 'a red fox in a snowy forest',
  seed: 1,
  steps: 4,
  scheduler: 'ddim',
  guidance: 7.5,
  width: 64,
  height: 64,
};
const mad = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
};

describe('generate', () => {
  it('is reproducible: same request -> identical pixels and PNG bytes; another seed -> another image', async () => {
    const a = await generate(ms, base);
    const b = await generate(ms, base);
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(b.image.buffer))).toBe(true);
    expect(a.png.equals(b.png)).toBe(true);
    const c = await generate(ms, { ...base, seed: 2 });
    expect(mad(a.image, c.image)).toBeGreaterThan(0.05);
    expect(a.image.length).toBe(3 * 64 * 64);
    expect(Math.min(...a.image)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...a.image)).toBeLessThanOrEqual(1);
    expect(a.stepSeconds).toHaveLength(4);
  });

  it('starts from the documented seeded noise', () => {
    expect(Array.from(initialNoise(7, 4, 2, 2))).toEqual(Array.from(gaussian(7, 16, 0)));
  });

  it('depends strongly on the prompt, and smoothly on the embedding', async () => {
    const req = { ...base, width: 128, height: 128, steps: 8 };
    const fox = await generate(ms, req);
    const boat = await generate(ms, { ...req, prompt: 'a blue boat on a calm lake' });
    const seed2 = await generate(ms, { ...req, seed: 2 });
    const textEffect = mad(fox.image, boat.image);
    expect(textEffect).toBeGreaterThan(0.25); // of a [-1, 1] range
    expect(textEffect).toBeGreaterThan(0.5 * mad(fox.image, seed2.image));
    // Continuity in the embedding: along the straight line between the two prompts' embeddings,
    // the largest image change between neighbours shrinks as the steps get finer (no jumps).
    const ea = await encodePrompt(ms, req.prompt!);
    const eb = await encodePrompt(ms, 'a blue boat on a calm lake');
    const path = async (n: number): Promise<number[]> => {
      let prev = fox.image;
      const d: number[] = [];
      for (let k = 1; k <= n; k++) {
        const e = ea.map((v, i) => v + (k / n) * (eb[i]! - v));
        const r = await generate(ms, { ...req, embedding: e }, { png: false });
        d.push(mad(prev, r.image));
        prev = r.image;
      }
      expect(mad(prev, boat.image)).toBeLessThan(1e-6);
      return d;
    };
    const coarse = Math.max(...(await path(4)));
    const fine = Math.max(...(await path(16)));
    expect(fine).toBeLessThan(0.6 * coarse);
    expect(fine).toBeLessThan(0.25);
  }, 240_000);

  it('an embedding gives the same image as its prompt; guidance <= 1 ignores the negative prompt', async () => {
    const a = await generate(ms, base);
    const b = await generate(ms, { ...base, embedding: await encodePrompt(ms, base.prompt!) });
    expect(mad(a.image, b.image)).toBe(0);
    expect(b.params.conditioning).toBe('embedding');
    const n1 = await generate(ms, { ...base, negativePrompt: 'blurry' });
    expect(mad(a.image, n1.image)).toBeGreaterThan(0.01);
    const g1a = await generate(ms, { ...base, guidance: 1 });
    const g1b = await generate(ms, { ...base, guidance: 1, negativePrompt: 'blurry' });
    expect(mad(g1a.image, g1b.image)).toBe(0);
    expect(g1a.tokenInfo.negative).toBeNull();
  });

  it('runs every scheduler', async () => {
    const imgs: Float32Array[] = [];
    for (const scheduler of ['ddim', 'euler', 'lms', 'turbo'] as const) {
      const r = await generate(ms, { ...base, scheduler, steps: scheduler === 'turbo' ? 1 : 4, guidance: scheduler === 'turbo' ? 0 : 7.5 });
      expect(r.image.every(Number.isFinite)).toBe(true);
      expect(r.params.scheduler).toBe(scheduler);
      imgs.push(r.image);
    }
    expect(mad(imgs[0]!, imgs[3]!)).toBeGreaterThan(0.01);
  });

  it('embeds the A1111 parameters and our JSON record in the PNG', async () => {
    const r = await generate(ms, { ...base, negativePrompt: 'grey, dull' });
    const meta = readPngMetadata(r.png);
    expect(meta.parameters).toBe(
      `a red fox in a snowy forest\nNegative prompt: grey, dull\nSteps: 4, Sampler: DDIM, CFG scale: 7.5, Seed: 1, Size: 64x64, Model: demo`,
    );
    expect(meta.json).toMatchObject({
      app: 'inversion-studio',
      prompt: base.prompt,
      negativePrompt: 'grey, dull',
      seed: 1,
      steps: 4,
      scheduler: 'ddim',
      guidance: 7.5,
      width: 64,
      height: 64,
      model: 'demo',
    });
  });

  it('reports progress per step with an ETA, in phase order', async () => {
    const events: GenerateProgress[] = [];
    await generate(ms, base, { onProgress: (e) => events.push(e) });
    expect(events.map((e) => `${e.phase}:${e.step}/${e.total}`)).toEqual([
      'encode:0/1',
      'encode:1/1',
      'denoise:1/4',
      'denoise:2/4',
      'denoise:3/4',
      'denoise:4/4',
      'decode:0/1',
      'decode:1/1',
    ]);
    for (const e of events.filter((x) => x.phase === 'denoise')) expect(e.etaSeconds).toBeGreaterThanOrEqual(0);
  });

  it('cancels between steps with CancelledError', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const e = await generate(
      ms,
      { ...base, steps: 10 },
      {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === 'denoise') {
            seen.push(p.step);
            if (p.step === 2) ac.abort();
          }
        },
      },
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CancelledError);
    expect(seen).toEqual([1, 2]);
    const partial = (e as CancelledError<GenerateCancelled>).partial!;
    expect(partial.step).toBe(2);
    expect(partial.latents).toHaveLength(4 * 8 * 8);
    const pre = new AbortController();
    pre.abort();
    await expect(generate(ms, base, { signal: pre.signal })).rejects.toBeInstanceOf(CancelledError);
  });

  it('warns about prompts over 77 tokens and lists the dropped words', async () => {
    const words = Array.from({ length: 90 }, (_, i) => (i < 80 ? 'red' : `word${i}`));
    words[80] = 'castle';
    words[81] = 'dragon';
    const warnings: string[] = [];
    const r = await generate(ms, { ...base, prompt: words.join(' ') }, { onWarning: (w) => warnings.push(w.message) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/longer than 77 tokens; dropped: .*castle dragon/);
    expect(r.warnings).toEqual(warnings);
    expect(r.tokenInfo.prompt?.truncated?.words).toContain('castle');
    expect(r.tokenInfo.prompt?.length).toBe(77);
  });

  it('rejects bad sizes and parameters with clear messages', async () => {
    const bad = async (patch: Partial<GenerateRequest>, re: RegExp) => {
      const e = (await generate(ms, { ...base, ...patch }).catch((x: unknown) => x)) as EngineError;
      expect(e).toBeInstanceOf(EngineError);
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(re);
    };
    await bad({ width: 100 }, /width 100 is not a multiple of 8 .*try 96/);
    await bad({ height: 0 }, /height must be a positive integer/);
    await bad({ width: 72 }, /width 72 is not a multiple of 32, which model set demo needs; try 64/);
    await bad({ steps: 0 }, /steps must be an integer from 1/);
    await bad({ seed: -1 }, /seed must be an integer >= 0/);
    await bad({ guidance: Number.NaN }, /guidance must be a number/);
    await bad({ embedding: new Float32Array(10) }, /embedding has 10 values.*77x64/);
    await expect(generate(ms, { ...base, scheduler: 'pndm' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('VAE helpers', () => {
  it('encodeImage(decodeLatents(x)) recovers a generated latent', async () => {
    const r = await generate(ms, { ...base, width: 128, height: 128 });
    const img = await decodeLatents(ms, r.latents, 16, 16);
    expect(img.length).toBe(3 * 128 * 128);
    const back = await encodeImage(ms, img, 128, 128);
    let dot = 0,
      na = 0,
      nb = 0;
    for (let i = 0; i < back.length; i++) {
      dot += r.latents[i]! * back[i]!;
      na += r.latents[i]! ** 2;
      nb += back[i]! ** 2;
    }
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.9);
    await expect(encodeImage(ms, img, 100, 128)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
