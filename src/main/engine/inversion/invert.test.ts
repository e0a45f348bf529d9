import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../diffusion/model-set.js';
import type { DecodeOptions, EmbeddingToText, TextEmbedding } from '../e2t/types.js';
import { CancelledError, EngineError } from '../errors.js';
import { testCacheDir } from '../models/demo/test-support.js';
import { inversionModelsFromSet } from './from-model-set.js';
import type { InversionModels } from './inversion-models.js';
import { invert, type TargetImage } from './invert.js';
import { presetSettings } from './presets.js';
import { createRenderer } from './renderer.js';

/**
 * The engine entry point on the demo models at 128x128 (the CLI test covers the end-to-end run
 * with the sampler objectives; these use the cheap denoise objective and watch control flow).
 */
let ms: ModelSet;
let m: InversionModels;
let target: TargetImage;
const START = 'a green cat on a sofa';

beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir() });
  m = await inversionModelsFromSet(ms);
  const s = presetSettings('fast');
  const { embedding: uncond } = await m.encodePrompt('');
  const r = await createRenderer(m, { width: 128, height: 128, steps: s.steps, scheduler: s.scheduler, guidance: s.guidance, seed: s.seed, uncond });
  target = { data: await r.render((await m.encodePrompt('a red cat on a blue sofa')).embedding), width: 128, height: 128 };
  await r.release();
});
afterAll(async () => {
  await ms?.release();
});

/** Records which snapshots were decoded and returns a marked text for each. */
class MarkingDecoder implements EmbeddingToText {
  readonly name = 'marking';
  seen: number[] = [];
  constructor(private readonly snapshots: Float32Array[] = []) {}
  async decode(t: TextEmbedding, o: DecodeOptions) {
    this.snapshots.push(Float32Array.from(t.data));
    this.seen.push(this.snapshots.length);
    const text = `${o.init} #${this.seen.length}`;
    // An n-best list: the answer first, then two runners-up.
    const alternatives = [text, `${text} alt1`, `${text} alt2`].map((t, i) => ({ text: t, distance: i, score: i }));
    return { text, distance: 0, rounds: 1, candidatesScored: 3, alternatives };
  }
}

describe('invert', () => {
  it('decodes every snapshot and ranks the candidates (the start text competes)', async () => {
    const e2t = new MarkingDecoder();
    const res = await invert(m, target, { settings: presetSettings('fast', { objective: 'denoise', iterations: 6, snapshotEvery: 3, previewEvery: 0 }), init: { kind: 'text', text: START }, e2t });
    // Snapshots at 0, 3 and 6.
    expect(e2t.seen).toEqual([1, 2, 3]);
    expect(res.loss).toHaveLength(6);
    expect(res.iterations).toBe(6);
    expect(res.initialPrompt).toBe(START);
    // One text per snapshot, the start text, and the best snapshot's runners-up (fast ranks 3;
    // this n-best list has 2), which carry that snapshot's iteration and their own distance.
    const last = `${START} #1 #2 #3`;
    expect(res.candidates.map((c) => c.prompt).sort()).toEqual([START, `${START} #1`, `${START} #1 #2`, last, `${last} alt1`, `${last} alt2`].sort());
    const alt = res.candidates.find((c) => c.prompt === `${last} alt2`)!;
    expect(alt.iteration).toBe(6);
    expect(alt.e2tDistance).toBe(2);
    const scores = res.candidates.map((c) => c.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(res.prompt).toBe(res.candidates[0]!.prompt);
    expect(res.candidates.every((c) => c.png && c.png.subarray(1, 4).toString() === 'PNG')).toBe(true);
    expect(res.rankedBy).toBe('pixel-mse');
    expect(res.stopped).toBeUndefined();
  });

  it('ranks no runners-up when rankAlternatives is 0 (the reference, preset paper)', async () => {
    const res = await invert(m, target, { settings: presetSettings('fast', { objective: 'denoise', iterations: 2, snapshotEvery: 2, previewEvery: 0, rankAlternatives: 0 }), init: { kind: 'text', text: START }, e2t: new MarkingDecoder() });
    expect(res.candidates.some((c) => c.prompt.includes(' alt'))).toBe(false);
    expect(presetSettings('paper').rankAlternatives).toBe(0);
  });

  it('cancelled mid-run returns the best result so far, decoded from the best snapshot', async () => {
    const ac = new AbortController();
    const snaps: Float32Array[] = [];
    const e2t = new MarkingDecoder(snaps);
    const phases = new Set<string>();
    const res = await invert(m, target, {
      settings: presetSettings('fast', { objective: 'denoise', iterations: 200, snapshotEvery: 2, previewEvery: 0 }),
      init: { kind: 'text', text: START },
      e2t,
      signal: ac.signal,
      onProgress: (e) => {
        phases.add(e.phase);
        if (e.phase === 'refining' && e.iteration === 5) ac.abort();
      },
    });
    expect(res.stopped).toBe('cancelled');
    expect(res.iterations).toBe(5);
    expect(res.loss).toHaveLength(5);
    // Only the last snapshot (the best embedding) was decoded, and it is a candidate.
    expect(e2t.seen).toEqual([1]);
    expect(res.candidates.length).toBeGreaterThan(0);
    expect(res.candidates[0]!.prompt).toBe(`${START} #1`);
    expect(res.prompt).toBe(`${START} #1`);
    expect([...phases]).toEqual(['encoding', 'refining', 'decoding', 'ranking', 'done']);
  });

  it('cancelled before refinement throws CancelledError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(invert(m, target, { settings: presetSettings('fast', { objective: 'denoise', iterations: 3 }), init: { kind: 'text', text: START }, signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
  });

  it('a non-finite loss at the first iteration is a NUMERIC error, not a cancellation', async () => {
    const broken: InversionModels = {
      ...m,
      encodePrompt: async (text) => {
        const e = await m.encodePrompt(text);
        if (text) e.embedding[m.dim + 1] = Infinity;
        return e;
      },
    };
    const p = invert(broken, target, { settings: presetSettings('fast', { objective: 'denoise', iterations: 3 }), init: { kind: 'text', text: START }, e2t: new MarkingDecoder() });
    await expect(p).rejects.toBeInstanceOf(EngineError);
    await expect(p).rejects.toMatchObject({ code: 'NUMERIC', message: expect.stringMatching(/denoise loss is not finite at the first iteration/) });
  });

  it('rejects targets that are too small or not a multiple of the VAE factor', async () => {
    const init = { kind: 'text' as const, text: START };
    const settings = presetSettings('fast', { objective: 'denoise', iterations: 1 });
    await expect(invert(m, { data: new Float32Array(3 * 32 * 32), width: 32, height: 32 }, { settings, init })).rejects.toMatchObject({ code: 'IMAGE' });
    await expect(invert(m, { data: new Float32Array(3 * 100 * 100), width: 100, height: 100 }, { settings, init })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(invert(m, target, { settings, init: { kind: 'text', text: '  ' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
