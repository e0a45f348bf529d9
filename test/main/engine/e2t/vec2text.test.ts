import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, EngineError } from '../../../../src/main/engine/errors.js';
import { writeWordTokenizer } from '../../../../src/main/engine/e2t/e2t-tokenizer.js';
import { loadVec2Text, type Vec2TextDecoder, type Vec2TextResult } from '../../../../src/main/engine/e2t/vec2text.js';
import { randomWeights } from '../../../../src/main/engine/e2t/vec2text-graphs.js';
import { writeVec2TextFolder } from '../../../../src/main/engine/e2t/vec2text-writer.js';
import { bagOfWordsEncoder } from './fake-encoders.js';
import { TINY_EMBEDDER, TINY_WORDS, tinyDims, writeTinyPair } from './tiny-vec2text.js';

const dirs: string[] = [];
let pair: string;
let decoder: Vec2TextDecoder;
const encoder = bagOfWordsEncoder(8, 12);

async function target(text: string) {
  const [e] = await encoder.encode([text]);
  return { data: e!.embedding, tokens: 12, dim: 8, length: e!.length };
}

function cos(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    d += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return d / Math.sqrt(na * nb);
}

beforeAll(async () => {
  pair = (await writeTinyPair({ maxLength: 8 })).dir;
  dirs.push(pair);
  decoder = await loadVec2Text(pair, { embedder: encoder });
});
afterAll(async () => {
  await decoder?.release();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('vec2text loop on a tiny pair', () => {
  it('corrects with a sequence beam re-ranked by cosine and answers the best text seen', async () => {
    const t = await target('a red cat on the sofa');
    const e = decoder.targetVector(t);
    const progress: number[] = [];
    const r = await decoder.invert(t, { steps: 4, beam: 3, onProgress: (p) => progress.push(p.round) });
    expect(decoder.hasCorrector).toBe(true);
    expect(['steps', 'converged']).toContain(r.stopped);
    expect(r.trace[0]!.candidates).toHaveLength(1); // the inverter's greedy hypothesis
    expect(r.rounds).toBe(r.trace.length - 1);
    expect(progress).toEqual(r.trace.map((s) => s.step));
    let bestSeen = -Infinity;
    for (const s of r.trace) {
      // Candidates sorted by cosine; the beam is the top (at most 3) distinct texts.
      for (let i = 1; i < s.candidates.length; i++) expect(s.candidates[i - 1]!.cosine).toBeGreaterThanOrEqual(s.candidates[i]!.cosine);
      expect(s.beam).toEqual(s.candidates.slice(0, 3).map((c) => c.text));
      expect(new Set(s.candidates.map((c) => c.text)).size).toBe(s.candidates.length);
      if (s.step > 0) expect(s.candidates.length).toBeGreaterThan(1); // beam 3 x 3 generations
      bestSeen = Math.max(bestSeen, ...s.candidates.map((c) => c.cosine));
    }
    expect(r.cosine).toBeCloseTo(bestSeen, 6);
    // The cosine is the one of the answer's own re-encoding through the diffusion tokenizer/encoder.
    const [own] = await encoder.encode([r.text]);
    expect(cos(e, own!.embedding.slice((own!.length - 1) * 8, own!.length * 8))).toBeCloseTo(r.cosine, 5);
    expect(r.alternatives[0]!.text).toBe(r.text);
    expect(r.alternatives.length).toBeLessThanOrEqual(3);
    for (const w of r.text.split(' ').filter(Boolean)) expect(TINY_WORDS).toContain(w);
  });

  it('beam 1 is greedy throughout: one candidate per step', async () => {
    const r = await decoder.invert(await target('a blue dog'), { steps: 3, beam: 1 });
    for (const s of r.trace) expect(s.candidates).toHaveLength(1);
  });

  it('stops at a fixed point: a corrector whose input is constant repeats its hypothesis', async () => {
    // layernorm weight 0: every corrector input row becomes the LayerNorm bias, so the corrector
    // writes the same text whatever the hypothesis (until the hypothesis length settles).
    const base = randomWeights(21);
    const { dir } = await writeTinyPair({ maxLength: 6 });
    dirs.push(dir);
    await writeVec2TextFolder({
      dir,
      embedder: TINY_EMBEDDER,
      words: TINY_WORDS,
      maxLength: 6,
      inverter: { dims: tinyDims(8), weights: randomWeights(20) },
      corrector: {
        dims: tinyDims(8),
        weights: (name, dims, init) => (name === 'layernorm.weight' ? new Float32Array(dims[0]!) : base(name, dims, init)),
      },
    });
    const d = await loadVec2Text(dir, { embedder: encoder });
    try {
      const r = await d.invert(await target('a cat'), { steps: 20, beam: 1 });
      expect(r.stopped).toBe('converged');
      expect(r.rounds).toBeLessThan(20);
      expect(r.trace.at(-1)!.beam).toEqual(r.trace.at(-2)!.beam);
    } finally {
      await d.release();
    }
  });

  it('cancelling mid-correction returns the best text so far', async () => {
    const ac = new AbortController();
    const t = await target('a green dog on the grass');
    let err: unknown;
    let seen: { cosine: number; text: string }[] = [];
    try {
      await decoder.invert(t, {
        steps: 10,
        beam: 2,
        signal: ac.signal,
        onProgress: (p) => {
          seen.push({ cosine: p.cosine, text: p.best });
          if (p.round === 2) ac.abort();
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CancelledError);
    const partial = (err as CancelledError<Vec2TextResult>).partial!;
    expect(partial.stopped).toBe('cancelled');
    expect(partial.rounds).toBe(2);
    seen = seen.sort((a, b) => b.cosine - a.cosine);
    expect(partial.text).toBe(seen[0]!.text);
    expect(partial.cosine).toBeCloseTo(seen[0]!.cosine, 6);
  });

  it('cancelled before any hypothesis: no partial result', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await decoder.invert(await target('a cat'), { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).partial).toBeUndefined();
  });

  it('EmbeddingToText.decode maps maxRounds to correction steps and beam to the sequence beam', async () => {
    const r = (await decoder.decode(await target('a small cat'), { init: 'ignored', maxRounds: 2, beam: 2, nBest: 5 })) as Vec2TextResult;
    expect(r.rounds).toBeLessThanOrEqual(2);
    expect(r.trace.length).toBeLessThanOrEqual(3);
    expect(r.alternatives.length).toBeLessThanOrEqual(5);
    expect(r.alternatives[0]!.score).toBeCloseTo(1 - r.cosine, 6);
  });
});

describe('folder checks', () => {
  it('a folder without a corrector loads with a warning and re-ranks the inverter beam', async () => {
    // (seed 3: a random decoder whose 3 beams decode to distinct texts)
    const { dir } = await writeTinyPair({ corrector: false, seed: 3 });
    dirs.push(dir);
    const warnings: string[] = [];
    const d = await loadVec2Text(dir, { embedder: encoder, onWarning: (w) => warnings.push(w) });
    try {
      expect(warnings.join('\n')).toMatch(/no corrector/);
      expect(d.warnings).toEqual(warnings);
      const r = await d.invert(await target('a red dog'), { beam: 3 });
      expect(r.stopped).toBe('inverter-only');
      expect(r.trace).toHaveLength(1);
      expect(r.trace[0]!.candidates.length).toBeGreaterThan(1);
      expect(r.text).toBe(r.trace[0]!.candidates[0]!.text);
    } finally {
      await d.release();
    }
  });

  it('a pair made for another embedder width is refused, saying both widths', async () => {
    const err = await loadVec2Text(pair, { embedder: bagOfWordsEncoder(16, 12) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('MODEL_FOLDER');
    expect((err as Error).message).toMatch(/width 8.*16 wide/s);
  });

  it('a vocabulary that does not cover the tokenizer is refused', async () => {
    const { dir } = await writeTinyPair({ corrector: false });
    dirs.push(dir);
    await writeWordTokenizer(dir, [...TINY_WORDS, ...Array.from({ length: 20 }, (_, i) => `extra${i}`)]);
    const err = await loadVec2Text(dir, { embedder: encoder }).catch((e: unknown) => e);
    expect((err as EngineError).code).toBe('MODEL_FOLDER');
    expect((err as Error).message).toMatch(/16 output tokens but its tokenizer has 35 ids: the vocabulary does not cover the tokenizer/);
  });

  it('missing files, a half corrector, a foreign config and graphs that contradict config.json are clear errors', async () => {
    const { dir } = await writeTinyPair();
    dirs.push(dir);
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8')) as Record<string, Record<string, unknown>>;
    const expectError = async (code: string, re: RegExp) => {
      const err = await loadVec2Text(dir, { embedder: encoder }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe(code);
      expect((err as Error).message).toMatch(re);
    };
    await writeFile(cfgFile, JSON.stringify({ ...cfg, inverter: { ...cfg.inverter, numDecoderLayers: 3 } }));
    await expectError('INVALID_MODEL', /cross_kv\.onnx does not match the E2T layout: no output 'cross_key_values\.2\.(key|value)'/);
    await writeFile(cfgFile, JSON.stringify({ ...cfg, inverter: { ...cfg.inverter, dModel: 32 } }));
    await expectError(
      'INVALID_MODEL',
      /embedding_projection\.onnx does not match the E2T layout: output 'inputs_embeds' dim 2 is 16, expected 32/,
    );
    await writeFile(cfgFile, JSON.stringify({ ...cfg, embedder: { dim: 8, read: 'all' } }));
    await expectError('MODEL_FOLDER', /embedder\.read "all" needs embedder\.positions/);
    await writeFile(cfgFile, JSON.stringify({ model_name_or_path: 't5-base', num_repeat_tokens: 16 }));
    await expectError('MODEL_FOLDER', /not an Inversion Studio E2T config/);
    await writeFile(cfgFile, JSON.stringify(cfg));
    await rm(path.join(dir, 'corrector', 'cross_kv.onnx'));
    await expectError('MODEL_FOLDER', /corrector is incomplete: missing corrector\/cross_kv\.onnx/);
    await rm(path.join(dir, 'inverter', 'decoder_model.onnx'));
    await rm(path.join(dir, 'tokenizer.json'));
    await expectError('MODEL_FOLDER', /missing tokenizer\.json, inverter\/decoder_model\.onnx/);
    await rm(cfgFile);
    await expectError('MODEL_FOLDER', /no config\.json/);
  });
});
