/**
 * editGeneration on the demo set (a random UNet: it never learned to draw anything, so these tests
 * check the machinery — exactness, the blend, the record, errors — not edit quality; bench/edit.ts
 * measures quality on the shapes set).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  editGeneration,
  NothingToEditError,
  planEdit,
  releaseAttentionControl,
  type EditSource,
} from '../../../../../src/main/engine/concepts/edit/index.js';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../../../src/main/engine/diffusion/pipeline.js';
import { CancelledError, EngineError } from '../../../../../src/main/engine/errors.js';
import { readPngMetadata } from '../../../../../src/main/engine/image/image-io.js';
import { writeDemoModelSet, type DemoSetOptions } from '../../../../../src/main/engine/models/demo/index.js';
import { testCacheDir } from '../../models/demo/demo-cache.js';

let ms: ModelSet;
beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu', skipVaeEncoder: true });
}, 120_000);
afterAll(async () => {
  await releaseAttentionControl(ms);
  await ms.release();
});

const SOURCE_PROMPT = 'a red fox and a blue bird in a snowy forest';
const source = (extra: Partial<EditSource> = {}): EditSource => ({
  prompt: SOURCE_PROMPT,
  seed: 7,
  steps: 4,
  scheduler: 'ddim',
  guidance: 7.5,
  width: 64,
  height: 64,
  model: 'demo',
  ...extra,
});
const settings = { seed: 7, steps: 4, scheduler: 'ddim' as const, guidance: 7.5, width: 64, height: 64 };

function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

describe('editGeneration', () => {
  it('regenerate: both runs through the control session equal plain generations bit for bit', async () => {
    const r = await editGeneration(ms, { source: source(), prompt: 'a red fox in a snowy forest', mode: 'regenerate' }, { png: false });
    const plainEdit = await generate(ms, { prompt: 'a red fox in a snowy forest', ...settings }, { png: false });
    const plainSource = await generate(ms, { prompt: SOURCE_PROMPT, ...settings }, { png: false });
    expect(r.mode).toBe('regenerate');
    expect(r.modeReason).toBe('asked for');
    expect(bitEqual(r.image, plainEdit.image)).toBe(true);
    expect(bitEqual(r.latents, plainEdit.latents)).toBe(true);
    expect(bitEqual(r.sourceImage, plainSource.image)).toBe(true);
    expect(r.summary).toBe('removal of "and a blue bird"');
    // The report's mask comes from the removed words' maps even without blending.
    expect(r.mask.words).toEqual({ source: ['blue', 'bird'], edited: [] });
    expect(r.report.maskArea).toBeGreaterThan(0);
    expect(r.report.outside.pixels + r.report.inside.pixels).toBe(64 * 64);
  });

  it('blend (auto for a removal): outside the mask the final latent is the source latent, exactly', async () => {
    // The random demo UNet attends diffusely: a high threshold and no dilation leave part of the 8x8 latent out.
    const r = await editGeneration(ms, { source: source(), prompt: 'a red fox in a snowy forest', blend: { threshold: 0.7, dilate: 0 } });
    expect(r.mode).toBe('blend');
    expect(r.modeReason).toMatch(/removal or replacement/);
    const hw = r.mask.latentWidth * r.mask.latentHeight;
    expect(hw).toBe(64);
    const inside = r.mask.latent.reduce((a, v) => a + v, 0);
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(hw);
    let outsideEqual = true;
    let insideDiffers = false;
    for (let i = 0; i < r.latents.length; i++) {
      if (r.mask.latent[i % hw]) insideDiffers ||= r.latents[i] !== r.sourceLatents[i];
      else outsideEqual &&= Object.is(r.latents[i], r.sourceLatents[i]);
    }
    expect(outsideEqual).toBe(true);
    expect(insideDiffers).toBe(true);
    // The image mask is the latent mask at 8x8 pixels per latent pixel.
    expect(r.mask.data.length).toBe(64 * 64);
    expect(r.mask.data[0]).toBe(r.mask.latent[0]);
    expect(r.report.maskArea).toBeCloseTo(inside / hw, 10);

    const meta = readPngMetadata(r.png);
    const rec = meta.json as typeof r.record;
    expect(rec.prompt).toBe('a red fox in a snowy forest');
    expect(rec.edit.source).toMatchObject({ prompt: SOURCE_PROMPT, seed: 7, steps: 4, model: 'demo' });
    expect(rec.edit.mode).toBe('blend');
    expect(rec.edit.edits).toEqual([{ kind: 'removal', source: 'and a blue bird', edited: '' }]);
    expect(meta.parameters).toMatch(/Edit mode: blend/);
    expect(meta.parameters).toMatch(/Edit source: a red fox and a blue bird in a snowy forest/);
  });

  it('attention: the source is untouched, the edited run differs from a plain regeneration', async () => {
    const edited = 'a red fox and a green bird in a snowy forest';
    const att = await editGeneration(
      ms,
      { source: source(), prompt: edited, mode: 'attention', crossSteps: 1, selfSteps: 0.5, selfMinFactor: 1 },
      { png: false },
    );
    const plain = await generate(ms, { prompt: edited, ...settings }, { png: false });
    const plainSource = await generate(ms, { prompt: SOURCE_PROMPT, ...settings }, { png: false });
    expect(bitEqual(att.sourceImage, plainSource.image)).toBe(true);
    expect(bitEqual(att.image, plain.image)).toBe(false);
    expect(att.mask.words).toEqual({ source: ['blue'], edited: ['green'] });
  });

  it('suppress: negative guidance on the removed words changes the removal', async () => {
    const base = { source: source(), prompt: 'a red fox in a snowy forest', mode: 'regenerate' as const };
    const a = await editGeneration(ms, base, { png: false });
    const b = await editGeneration(ms, { ...base, suppress: { warmup: 0 } }, { png: false });
    expect(bitEqual(a.image, b.image)).toBe(false);
    expect(b.record.edit.suppress).toMatchObject({ scale: 5, threshold: 0.95, warmup: 0 });
  });

  it('compares against the image given as the source and says when its regeneration differs', async () => {
    const plainSource = await generate(ms, { prompt: SOURCE_PROMPT, ...settings }, { png: false });
    const blend = { threshold: 0.7, dilate: 0 };
    const same = await editGeneration(
      ms,
      { source: source({ image: plainSource.image }), prompt: 'a red fox in a snowy forest', blend },
      { png: false },
    );
    expect(same.sourceReproduced).toBe(true);
    expect(same.warnings).toEqual([]);
    const other = plainSource.image.map((v) => -v);
    const warned: string[] = [];
    const diff = await editGeneration(
      ms,
      { source: source({ image: other }), prompt: 'a red fox in a snowy forest', blend },
      { png: false, onWarning: (w) => warned.push(w.code) },
    );
    expect(diff.sourceReproduced).toBe(false);
    expect(warned).toEqual(['SOURCE_NOT_REPRODUCED']);
    expect(diff.report.outside.psnr).toBeLessThan(same.report.outside.psnr);
  });

  it('cancels both runs and reports the step reached', async () => {
    const ac = new AbortController();
    const p = editGeneration(
      ms,
      { source: source(), prompt: 'a red fox in a snowy forest' },
      { signal: ac.signal, png: false, onProgress: (e) => e.phase === 'denoise' && e.step === 2 && ac.abort() },
    );
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError<{ step: number }>).partial?.step).toBe(2);
  });
});

describe('bad input', () => {
  const fails = (f: () => unknown, re: RegExp, cls: typeof EngineError = EngineError): void => {
    let caught: unknown;
    try {
      f();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(cls);
    expect((caught as EngineError).code).toBe('INVALID_ARGUMENT');
    expect((caught as Error).message).toMatch(re);
  };

  it('an edited prompt that reads the same as the source: nothing to edit', async () => {
    fails(() => planEdit(ms, { source: source(), prompt: SOURCE_PROMPT }), /nothing to edit/, NothingToEditError);
    fails(() => planEdit(ms, { source: source(), prompt: `  ${SOURCE_PROMPT.toUpperCase()} ` }), /reads the same/, NothingToEditError);
    await expect(editGeneration(ms, { source: source(), prompt: `(${SOURCE_PROMPT}:1)` })).rejects.toBeInstanceOf(NothingToEditError);
  });

  it('a source without a prompt, or made with another model set', () => {
    fails(() => planEdit(ms, { source: source({ prompt: '' }), prompt: 'a fox' }), /the source has no prompt/);
    fails(
      () => planEdit(ms, { source: source({ model: 'sd15' }), prompt: 'a fox' }),
      /made with model set 'sd15', not 'demo'.*--models sd15/,
    );
  });

  it('suppression without a removal, bad fractions, an empty edited prompt', () => {
    fails(() => planEdit(ms, { source: source(), prompt: `${SOURCE_PROMPT} at night`, suppress: true }), /removes none/);
    fails(() => planEdit(ms, { source: source(), prompt: 'a red fox', crossSteps: 1.5 }), /crossSteps must be a number from 0 to 1/);
    fails(() => planEdit(ms, { source: source(), prompt: '   ' }), /edited prompt is empty/);
  });

  it('chooses the mode from the diff', () => {
    const mode = (p: string) => planEdit(ms, { source: source(), prompt: p }).mode;
    expect(mode('a red fox and a green bird in a snowy forest')).toBe('blend');
    expect(mode('a red fox and a blue bird in a snowy forest at night')).toBe('attention');
    expect(mode('a red (fox:1.3) and a blue bird in a snowy forest')).toBe('attention');
    expect(mode('an old lighthouse on a cliff at dusk')).toBe('regenerate');
    // Most content words replaced, the glue words kept: still too different.
    expect(mode('a gray wolf and a black cat in a sunny desert')).toBe('regenerate');
    expect(mode('a fox')).toBe('blend');
  });
});

describe.each([
  ['fp16 export (float16 activations and timestep)', { precision: 'float16', timestepDtype: 'float16' }],
  ['LCM-style export (timestep_cond, no guidance batch)', { timestepCondDim: 256, vaeEncoder: false, unetExternalData: false }],
] as [string, DemoSetOptions][])('%s', (_name, variant) => {
  let dir: string;
  let vms: ModelSet;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'is-edit-variant-'));
    await writeDemoModelSet(dir, variant);
    vms = await loadModelSet(dir, { provider: 'cpu' });
  }, 120_000);
  afterAll(async () => {
    await releaseAttentionControl(vms);
    await vms.release();
    await rm(dir, { recursive: true, force: true });
  });

  it('regenerate equals a plain generation bit for bit; blend feeds the source attention and keeps the source outside its mask', async () => {
    const s = { seed: 3, steps: 3, scheduler: vms.defaults.scheduler, guidance: vms.defaults.guidance, width: 64, height: 64 };
    const src: EditSource = { prompt: 'a red fox and a blue bird', ...s, model: vms.name };
    const r = await editGeneration(vms, { source: src, prompt: 'a red fox', mode: 'regenerate' }, { png: false });
    const plain = await generate(vms, { prompt: 'a red fox', ...s }, { png: false });
    expect(bitEqual(r.image, plain.image)).toBe(true);
    const b = await editGeneration(vms, { source: src, prompt: 'a red fox', blend: { threshold: 0.7, dilate: 0 } }, { png: false });
    expect(b.mode).toBe('blend');
    expect(bitEqual(b.image, plain.image)).toBe(false);
    const hw = b.mask.latent.length;
    for (let i = 0; i < b.latents.length; i++) if (!b.mask.latent[i % hw]) expect(b.latents[i]).toBe(b.sourceLatents[i]);
  });
});
