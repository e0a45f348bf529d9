import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import type { DecodeOptions, EmbeddingToText, TextEmbedding } from '../../../../src/main/engine/e2t/types.js';
import type { LanguageModel } from '../../../../src/main/engine/e2t/language-model.js';
import { CancelledError, EngineError } from '../../../../src/main/engine/errors.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { inversionModelsFromSet } from '../../../../src/main/engine/inversion/from-model-set.js';
import type { InversionModels } from '../../../../src/main/engine/inversion/inversion-models.js';
import { invert, type TargetImage } from '../../../../src/main/engine/inversion/invert.js';
import { loadCaptioner } from '../../../../src/main/engine/inversion/captioner.js';
import { chwToRgbBytes } from '../../../../src/main/engine/image/image-io.js';
import { writeVitGpt2Fixture } from '../hf/vit-gpt2-fixture.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LM_FLUENCY_WEIGHT, presetSettings } from '../../../../src/main/engine/inversion/presets.js';
import { createRenderer } from '../../../../src/main/engine/inversion/embedding-renderer.js';

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
  const r = await createRenderer(m, {
    width: 128,
    height: 128,
    steps: s.steps,
    scheduler: s.scheduler,
    guidance: s.guidance,
    seed: s.seed,
    uncond,
  });
  target = { data: await r.render((await m.encodePrompt('a red cat on a blue sofa')).embedding), width: 128, height: 128 };
  await r.release();
});
afterAll(async () => {
  await ms?.release();
});

/** Records which snapshots were decoded (and with which options) and returns a marked text for each. */
class MarkingDecoder implements EmbeddingToText {
  readonly name = 'marking';
  seen: number[] = [];
  options: DecodeOptions[] = [];
  /**
   * @param nBestList 'short': the answer and two runners-up, whatever nBest asks; 'long': up to
   *   nBest (default 4) entries, the answer, then the start text and the first decoded text (texts
   *   already competing), then runners-up alt1, alt2, …
   */
  constructor(
    private readonly snapshots: Float32Array[] = [],
    private readonly nBestList: 'short' | 'long' = 'short',
  ) {}
  async decode(t: TextEmbedding, o: DecodeOptions) {
    this.snapshots.push(Float32Array.from(t.data));
    this.seen.push(this.snapshots.length);
    this.options.push(o);
    const text = `${o.init} #${this.seen.length}`;
    const texts =
      this.nBestList === 'short'
        ? [text, `${text} alt1`, `${text} alt2`]
        : [text, START, `${START} #1`, ...Array.from({ length: 20 }, (_, i) => `${text} alt${i + 1}`)].slice(0, o.nBest ?? 4);
    const alternatives = texts.map((t, i) => ({ text: t, distance: i, score: i }));
    return { text, distance: 0, rounds: 1, candidatesScored: texts.length, alternatives };
  }
}

/** A language model that is never consulted (MarkingDecoder ignores it): only its name counts. */
const FAKE_LM: LanguageModel = {
  name: 'fake-lm',
  meanNll: async (texts) => texts.map(() => 0),
  nextWords: async () => [],
};

describe('invert', () => {
  it('decodes every snapshot and ranks the candidates (the start text competes)', async () => {
    const e2t = new MarkingDecoder();
    const res = await invert(m, target, {
      settings: presetSettings('fast', { objective: 'denoise', iterations: 6, snapshotEvery: 3, previewEvery: 0 }),
      init: { kind: 'text', text: START },
      e2t,
    });
    // Snapshots at 0, 3 and 6.
    expect(e2t.seen).toEqual([1, 2, 3]);
    expect(res.loss).toHaveLength(6);
    expect(res.iterations).toBe(6);
    expect(res.initialPrompt).toBe(START);
    // One text per snapshot, the start text, and the best snapshot's runners-up (fast ranks 3;
    // this n-best list has 2), which carry that snapshot's iteration and their own distance.
    const last = `${START} #1 #2 #3`;
    expect(res.candidates.map((c) => c.prompt).sort()).toEqual(
      [START, `${START} #1`, `${START} #1 #2`, last, `${last} alt1`, `${last} alt2`].sort(),
    );
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

  it('asks the last decoding for enough runners-up and ranks rankAlternatives new ones (not the start or an earlier text)', async () => {
    const e2t = new MarkingDecoder([], 'long');
    const res = await invert(m, target, {
      settings: presetSettings('fast', { objective: 'denoise', iterations: 6, snapshotEvery: 3, previewEvery: 0, rankAlternatives: 5 }),
      init: { kind: 'text', text: START },
      e2t,
    });
    // Only the last snapshot's decoding is asked for an n-best list: 5 runners-up, the answer, and
    // one per text already competing (the start text and the two earlier decodings).
    expect(e2t.options.map((o) => o.nBest)).toEqual([undefined, undefined, 5 + 1 + 3]);
    const last = `${START} #1 #2 #3`;
    // Its n-best list repeats the start text and the first decoding: they count once, and the
    // five runners-up after them are all ranked.
    const prompts = res.candidates.map((c) => c.prompt);
    expect(prompts.sort()).toEqual([START, `${START} #1`, `${START} #1 #2`, last, ...[1, 2, 3, 4, 5].map((i) => `${last} alt${i}`)].sort());
    expect(new Set(prompts).size).toBe(prompts.length);
    // The start text keeps its own entry (iteration 0), not the runner-up's.
    expect(res.candidates.find((c) => c.prompt === START)!.iteration).toBe(0);
  });

  it('reports the language model and the fluency weight the decoder was given (the default when unset)', async () => {
    const settings = presetSettings('fast', {
      objective: 'denoise',
      iterations: 1,
      snapshotEvery: 1,
      previewEvery: 0,
      rankAlternatives: 0,
    });
    const init = { kind: 'text' as const, text: START };
    const withDefault = new MarkingDecoder();
    const a = await invert(m, target, { settings, init, e2t: withDefault, lm: FAKE_LM });
    expect(a).toMatchObject({ lm: 'fake-lm', fluencyWeight: DEFAULT_LM_FLUENCY_WEIGHT });
    expect(withDefault.options.every((o) => o.fluencyWeight === DEFAULT_LM_FLUENCY_WEIGHT)).toBe(true);
    const given = new MarkingDecoder();
    const b = await invert(m, target, { settings: { ...settings, fluencyWeight: 0.3 }, init, e2t: given, lm: FAKE_LM });
    expect(b).toMatchObject({ lm: 'fake-lm', fluencyWeight: 0.3 });
    expect(given.options.every((o) => o.fluencyWeight === 0.3)).toBe(true);
    // Without a language model there is no fluency term, whatever the settings say.
    const none = new MarkingDecoder();
    const c = await invert(m, target, { settings: { ...settings, fluencyWeight: 0.3 }, init, e2t: none });
    expect(c.lm).toBeUndefined();
    expect(c.fluencyWeight).toBeUndefined();
    expect(none.options.every((o) => o.fluencyWeight === 0)).toBe(true);
  });

  it('ranks no runners-up when rankAlternatives is 0 (the reference, preset paper)', async () => {
    const res = await invert(m, target, {
      settings: presetSettings('fast', { objective: 'denoise', iterations: 2, snapshotEvery: 2, previewEvery: 0, rankAlternatives: 0 }),
      init: { kind: 'text', text: START },
      e2t: new MarkingDecoder(),
    });
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
    // Only the last snapshot (the best embedding) was decoded, and it is a candidate; a cancel
    // during refinement lets that decoding finish (it is the result), so it gets no signal.
    expect(e2t.seen).toEqual([1]);
    expect(e2t.options[0]!.signal).toBeUndefined();
    expect(res.candidates.length).toBeGreaterThan(0);
    expect(res.candidates[0]!.prompt).toBe(`${START} #1`);
    expect(res.prompt).toBe(`${START} #1`);
    expect([...phases]).toEqual(['encoding', 'refining', 'decoding', 'ranking', 'done']);
  });

  it('cancelled during decoding stops the decoder and ranks the best text it had', async () => {
    const ac = new AbortController();
    const e2t = new MarkingDecoder();
    // The second snapshot's decoding is cancelled the way HotFlipDecoder reports it.
    const cancelling: EmbeddingToText = {
      name: 'cancelling',
      decode: async (t, o) => {
        if (!o.signal) throw new Error('the decoder was given no signal');
        if (e2t.seen.length === 0) return e2t.decode(t, o);
        ac.abort();
        throw new CancelledError('decoding cancelled', { text: `${o.init} partial`, distance: 0.5 });
      },
    };
    const phases: string[] = [];
    const res = await invert(m, target, {
      settings: presetSettings('fast', { objective: 'denoise', iterations: 6, snapshotEvery: 3, previewEvery: 0 }),
      init: { kind: 'text', text: START },
      e2t: cancelling,
      signal: ac.signal,
      onProgress: (e) => void (phases.at(-1) !== e.phase && phases.push(e.phase)),
    });
    expect(res.stopped).toBe('cancelled');
    expect(res.iterations).toBe(6);
    // No further snapshot is decoded; the partial decoding is ranked first and is the result.
    expect(e2t.seen).toEqual([1]);
    expect(res.candidates).toHaveLength(1);
    expect(res.candidates[0]).toMatchObject({ prompt: `${START} #1 partial`, e2tDistance: 0.5, iteration: 3 });
    expect(res.prompt).toBe(`${START} #1 partial`);
    expect(phases).toEqual(['encoding', 'refining', 'decoding', 'ranking', 'done']);
  });

  it('cancelled while the HotFlip decoder runs returns its best text so far', async () => {
    const ac = new AbortController();
    let first: string | undefined;
    const res = await invert(m, target, {
      settings: presetSettings('fast', {
        objective: 'denoise',
        iterations: 30,
        snapshotEvery: 15,
        previewEvery: 0,
        e2tRounds: 2,
        lrBase: 0.5,
        lrMax: 1,
      }),
      init: { kind: 'text', text: START },
      signal: ac.signal,
      onProgress: (e) => {
        // After the first snapshot's decoding: the loop goes to the best (last) snapshot, whose
        // decoding stops before its first round with the text it started from.
        if (e.phase === 'decoding' && e.iteration === 1) {
          first = e.message;
          ac.abort();
        }
      },
    });
    expect(res.stopped).toBe('cancelled');
    expect(res.candidates).toHaveLength(1);
    // (Left to run, that decoding changes the text: a large learning rate moves the embedding.)
    expect(res.candidates[0]).toMatchObject({ prompt: first, iteration: 30 });
    // Its distance is measured against the best snapshot (the decoder scored it before stopping).
    expect(res.candidates[0]!.e2tDistance).toBeGreaterThan(0);
    expect(Number.isFinite(res.candidates[0]!.e2tDistance)).toBe(true);
  });

  it('starts from a caption of the target, with a captioner loaded once by the caller', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'invert-cap-'));
    try {
      await writeVitGpt2Fixture(cache);
      const instance = await loadCaptioner({ cacheDir: cache, captioner: 'vit-gpt2', offline: true });
      const phases: string[] = [];
      const res = await invert(m, target, {
        settings: presetSettings('fast', { objective: 'denoise', iterations: 2, snapshotEvery: 2, previewEvery: 0 }),
        init: { kind: 'caption', captioner: 'vit-gpt2', cacheDir: cache, offline: true, instance },
        e2t: new MarkingDecoder(),
        onProgress: (e) => void (phases.at(-1) !== e.phase && phases.push(e.phase)),
      });
      // The fixture captions by the image's dominant colour; the demo target's is one of three.
      expect(res.initialPrompt).toMatch(/red|green|blue/);
      expect(res.initialPrompt).toBe(await instance.caption({ data: chwToRgbBytes(target.data, 128, 128), width: 128, height: 128 }));
      expect(phases[0]).toBe('captioning');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('cancelled before refinement throws CancelledError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      invert(m, target, {
        settings: presetSettings('fast', { objective: 'denoise', iterations: 3 }),
        init: { kind: 'text', text: START },
        signal: ac.signal,
      }),
    ).rejects.toBeInstanceOf(CancelledError);
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
    const p = invert(broken, target, {
      settings: presetSettings('fast', { objective: 'denoise', iterations: 3 }),
      init: { kind: 'text', text: START },
      e2t: new MarkingDecoder(),
    });
    await expect(p).rejects.toBeInstanceOf(EngineError);
    await expect(p).rejects.toMatchObject({
      code: 'NUMERIC',
      message: expect.stringMatching(/denoise loss is not finite at the first iteration/),
    });
  });

  it('rejects targets that are too small or not a multiple of the VAE factor', async () => {
    const init = { kind: 'text' as const, text: START };
    const settings = presetSettings('fast', { objective: 'denoise', iterations: 1 });
    await expect(invert(m, { data: new Float32Array(3 * 32 * 32), width: 32, height: 32 }, { settings, init })).rejects.toMatchObject({
      code: 'IMAGE',
    });
    await expect(invert(m, { data: new Float32Array(3 * 100 * 100), width: 100, height: 100 }, { settings, init })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(invert(m, target, { settings, init: { kind: 'text', text: '  ' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses a target beyond the memory bound before any work (every caller, not only the studio)', async () => {
    const init = { kind: 'text' as const, text: START };
    const settings = presetSettings('fast', { objective: 'denoise', iterations: 1 });
    const side = m.defaultSize * 4; // 16x the native pixels, above the 4x cap whatever the memory
    await expect(
      invert(m, { data: new Float32Array(3 * side * side), width: side, height: side }, { settings, init }),
    ).rejects.toMatchObject({ code: 'TOO_LARGE', message: expect.stringMatching(/too large to invert/) });
  });
});
