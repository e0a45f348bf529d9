import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseAttentionCapture } from '../../../../../src/main/engine/attention/index.js';
import { fuse, fuseGrid, GRID_GAP } from '../../../../../src/main/engine/concepts/fusion/fuse.js';
import type { FuseMode, FuseRequest } from '../../../../../src/main/engine/concepts/fusion/types.js';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { encodePrompt, generate } from '../../../../../src/main/engine/diffusion/pipeline.js';
import { EngineError } from '../../../../../src/main/engine/errors.js';
import { readPngMetadata } from '../../../../../src/main/engine/image/image-io.js';
import { presetSettings } from '../../../../../src/main/engine/inversion/presets.js';
import { testCacheDir } from '../../models/demo/demo-cache.js';

let ms: ModelSet;
beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu' });
}, 120_000);
afterAll(async () => {
  if (ms) await releaseAttentionCapture(ms);
  await ms?.release();
});

const A = 'a red fox in the snow';
const B = 'a blue boat on a lake';
const base = { seed: 3, steps: 3, width: 64, height: 64 };
const req = (mode: FuseMode, extra: Partial<FuseRequest> = {}): FuseRequest => ({
  parents: [
    { kind: 'prompt', text: A },
    { kind: 'prompt', text: B },
  ],
  mode,
  ...base,
  ...extra,
});
const mad = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

describe('fuse on the demo set', () => {
  it('every mode renders, is reproducible byte for byte, and records the fusion in the PNG', async () => {
    const expected: Record<FuseMode, RegExp> = {
      concat: /^a red fox in the snow and a blue boat on a lake$/,
      blend: /\w/,
      compose: /^a red fox in the snow AND a blue boat on a lake$/,
      alternate: /^\[a red fox in the snow\|a blue boat on a lake\]$/,
      regions: / AND /,
    };
    const images: Float32Array[] = [];
    for (const mode of Object.keys(expected) as FuseMode[]) {
      const a = await fuse(ms, req(mode));
      const b = await fuse(ms, req(mode));
      expect(a.png.equals(b.png), mode).toBe(true);
      expect(a.prompt, mode).toMatch(expected[mode]);
      expect(a.image).toHaveLength(3 * 64 * 64);
      const meta = readPngMetadata(a.png);
      expect(meta.json, mode).toMatchObject({ model: 'demo', seed: 3, fusion: { mode, parents: [{ prompt: A }, { prompt: B }] } });
      expect(meta.parameters, mode).toContain(`Fusion: ${mode}`);
      images.push(a.image);
    }
    // The modes are different fusions, not one image five times.
    for (let i = 1; i < images.length; i++) expect(mad(images[0]!, images[i]!)).toBeGreaterThan(1e-3);
  });

  it('blend decodes the fused embedding to readable text; the endpoints of the weights are the parents', async () => {
    const r = await fuse(ms, req('blend', { weights: [0.5, 0.5] }));
    expect(r.decoded?.decoder).toBe('search');
    expect(r.decoded!.text).toBe(r.prompt);
    expect(r.decoded!.text.split(' ').length).toBeGreaterThanOrEqual(2);
    expect(r.weights).toEqual([0.5, 0.5]);
    // Weight 1 on A: the image is A's own (the conditioning is A's embedding exactly).
    const onlyA = await fuse(ms, req('blend', { weights: [1, 0] }));
    const plainA = await generate(ms, {
      prompt: A,
      seed: 3,
      steps: 3,
      scheduler: ms.defaults.scheduler,
      guidance: ms.defaults.guidance,
      width: 64,
      height: 64,
    });
    expect(mad(onlyA.image, plainA.image)).toBe(0);
    expect(onlyA.decoded!.text).toBe(A);
    const lerp = await fuse(ms, req('blend', { interpolation: 'lerp' }));
    expect(mad(lerp.image, r.image)).toBeGreaterThan(0);
  });

  it('compose weights are A1111’s: as given, 1 by default', async () => {
    const r = await fuse(ms, req('compose'));
    expect(r.weights).toEqual([1, 1]);
    const w = await fuse(ms, req('compose', { weights: [0.8, 0.4] }));
    expect(w.weights).toEqual([0.8, 0.4]);
    expect(w.prompt).toBe(`${A} :0.8 AND ${B} :0.4`);
  });

  it('alternate reports its schedule; regions their shares; attention regions come from the parents’ maps', async () => {
    const alt = await fuse(ms, req('alternate', { weights: [2, 1] }));
    expect(alt.schedule).toEqual([0, 1, 0]);
    const reg = await fuse(ms, req('regions'));
    expect(reg.regions!.map((r) => r.region)).toEqual(['left', 'right']);
    expect(reg.regions![0]!.share + reg.regions![1]!.share).toBeCloseTo(1, 5);
    const att = await fuse(ms, req('regions', { regions: ['attention', 'right'] }));
    expect(att.regions![0]!.region).toBe('attention');
    expect(att.regions![0]!.share).toBeGreaterThan(0.05);
  });

  it('uses an image parent’s recorded prompt, and inverts one without a record', async () => {
    const g = await generate(ms, { prompt: B, seed: 9, steps: 3, scheduler: 'ddim', guidance: 7.5, width: 64, height: 64 });
    const image = { data: g.image, width: 64, height: 64 };
    const recorded = await fuse(ms, {
      ...req('concat'),
      parents: [
        { kind: 'prompt', text: A },
        { kind: 'image', image, recorded: { prompt: B, model: 'demo' } },
      ],
    });
    expect(recorded.parents[1]).toMatchObject({ source: 'recorded', prompt: B });
    const phases: string[] = [];
    const inverted = await fuse(
      ms,
      {
        ...req('concat'),
        parents: [
          { kind: 'prompt', text: A },
          { kind: 'image', image },
        ],
      },
      {
        invert: {
          settings: presetSettings('fast', {
            iterations: 2,
            snapshotEvery: 1,
            previewEvery: 0,
            rankAlternatives: 0,
            e2tRounds: 2,
            steps: 2,
            rankSteps: 2,
          }),
        },
        onProgress: (e) => phases.push(e.phase),
      },
    );
    expect(inverted.parents[1]!.source).toBe('inverted');
    expect(inverted.parents[1]!.prompt.length).toBeGreaterThan(0);
    expect(phases).toContain('invert');
  }, 120_000);

  it('refuses one parent, parents from another model set, and bad weights or regions, before any work', async () => {
    await expect(fuse(ms, { ...req('blend'), parents: [{ kind: 'prompt', text: A }] })).rejects.toThrow(
      /at least two parents; only one was given/,
    );
    const e = await encodePrompt(ms, B);
    await expect(
      fuse(ms, {
        ...req('blend'),
        parents: [
          { kind: 'prompt', text: A },
          { kind: 'embedding', embedding: e, model: 'sd15' },
        ],
      }),
    ).rejects.toThrow(/model set 'sd15', but this fusion runs on 'demo'/);
    const g = { data: new Float32Array(3 * 64 * 64), width: 64, height: 64 };
    await expect(
      fuse(ms, {
        ...req('compose'),
        parents: [
          { kind: 'prompt', text: A },
          { kind: 'image', image: g, recorded: { prompt: B, model: 'sd-turbo' } },
        ],
      }),
    ).rejects.toThrow(/made with model set 'sd-turbo'/);
    await expect(fuse(ms, req('blend', { weights: [1, 2, 3] }))).rejects.toThrow(/one weight per parent/);
    await expect(fuse(ms, req('regions', { regions: ['left'] }))).rejects.toThrow(/one region per parent/);
    await expect(fuse(ms, req('nope' as FuseMode))).rejects.toBeInstanceOf(EngineError);
  });

  it('a grid renders modes × weights from one resolution of the parents', async () => {
    const g = await fuseGrid(ms, {
      parents: req('concat').parents,
      modes: ['compose', 'blend'],
      weightSets: [
        [0.7, 0.3],
        [0.3, 0.7],
      ],
      ...base,
    });
    expect(g.cells).toHaveLength(2);
    expect(g.cells[0]!.map((c) => c.mode)).toEqual(['compose', 'compose']);
    expect(g.cells[1]![1]!.weights).toEqual([0.3, 0.7]);
    expect(g.width).toBe(2 * 64 + GRID_GAP);
    expect(g.height).toBe(2 * 64 + GRID_GAP);
    expect(readPngMetadata(g.png).json).toMatchObject({ fusionGrid: { modes: ['compose', 'blend'] } });
    const single = await fuse(ms, req('compose', { weights: [0.3, 0.7] }));
    expect(mad(single.image, g.cells[0]![1]!.image)).toBe(0);
  });
});
