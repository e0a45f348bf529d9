import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { encodePromptDetailed } from '../../../../src/main/engine/diffusion/text-encoder.js';
import { readModel } from '../../../../src/main/engine/onnx/model-io.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import path from 'node:path';
import { align, alignedDistance, HotFlipDecoder, splitWords } from '../../../../src/main/engine/e2t/hotflip-decoder.js';
import type { TextEncoderOracle } from '../../../../src/main/engine/e2t/oracle.js';
import { createTextEncoderOracle } from '../../../../src/main/engine/e2t/text-encoder-oracle.js';
import { PLANTED } from './planted-prompts.js';

let ms: ModelSet;
let oracle: Awaited<ReturnType<typeof createTextEncoderOracle>>;

beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), skipVaeEncoder: true });
  const textEncoder = await readModel(path.join(ms.dir, 'text_encoder', 'model.onnx'));
  oracle = await createTextEncoderOracle(textEncoder, ms.tokenizer);
});
afterAll(async () => {
  await oracle?.release();
  await ms?.release();
});

describe('alignment and distance', () => {
  it('compares the prompt positions 1..EOS and gives the exact cotangent', () => {
    const al = align('prompt', 6, 4, 5);
    expect(Array.from(al.weights)).toEqual([0, 1, 1, 1, 0, 0]);
    const eos = align('eos', 6, 4, 5);
    expect(Array.from(eos.weights)).toEqual([0, 0, 0, 0, 1, 0]);
    expect(eos.rows[4]).toBe(3);
    const target = { data: Float32Array.from({ length: 12 }, (_, i) => i / 10), tokens: 6, dim: 2 };
    const y = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const { distance, cotangent } = alignedDistance(y, target, al, true);
    // Finite difference on one optimised element.
    const h = 1e-3;
    const yp = Float32Array.from(y);
    yp[3] = yp[3]! + h;
    const dp = alignedDistance(yp, target, al, false).distance;
    expect((dp - distance) / h).toBeCloseTo(cotangent![3]!, 2);
    expect(cotangent![0]).toBe(0);
    expect(splitWords('  a  red\tcat ')).toEqual(['a', 'red', 'cat']);
  });
});

describe('HotFlip decoder on the demo text encoder', () => {
  it('every planted word is a single whole-word token the decoder may propose', () => {
    const vocab = new Set(oracle.words.map((w) => w.word));
    const missing = PLANTED.flatMap((p) => [...splitWords(p.truth), ...splitWords(p.start)]).filter((w) => !vocab.has(w));
    expect(missing).toEqual([]);
  });

  it('recovers planted prompts exactly from c = T(P*) for >= 90% of them', async () => {
    const decoder = new HotFlipDecoder(oracle);
    const misses: string[] = [];
    let rounds = 0;
    for (const { truth, start } of PLANTED) {
      const enc = await encodePromptDetailed(ms, truth);
      const r = await decoder.decode(
        { data: enc.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: enc.length },
        { init: start, match: 'prompt' },
      );
      rounds += r.rounds;
      if (r.text !== truth) misses.push(`"${truth}" <- "${start}" gave "${r.text}" (distance ${r.distance.toExponential(2)})`);
      else expect(r.distance).toBeLessThan(1e-8);
    }
    const rate = (PLANTED.length - misses.length) / PLANTED.length;
    console.log(
      `[e2t] HotFlip decoder recovered ${PLANTED.length - misses.length}/${PLANTED.length} planted prompts exactly (${(rate * 100).toFixed(0)}%), ` +
        `${(rounds / PLANTED.length).toFixed(1)} rounds on average${misses.length ? `; misses:\n  ${misses.join('\n  ')}` : ''}`,
    );
    expect(PLANTED.length).toBeGreaterThanOrEqual(20);
    expect(rate).toBeGreaterThanOrEqual(0.9);
  });

  it('leaves an exact start alone and stops after one round', async () => {
    const decoder = new HotFlipDecoder(oracle);
    const enc = await encodePromptDetailed(ms, 'a fox in the snow');
    const r = await decoder.decode(
      { data: enc.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: enc.length },
      { init: 'a fox in the snow' },
    );
    expect(r.text).toBe('a fox in the snow');
    expect(r.distance).toBe(0);
    expect(r.rounds).toBe(1);
    // n-best: the exact text first, then the best of its edits, distinct and by score.
    expect(r.alternatives[0]).toEqual({ text: 'a fox in the snow', distance: 0, score: 0 });
    expect(r.alternatives).toHaveLength(4);
    expect(new Set(r.alternatives.map((a) => a.text)).size).toBe(4);
    expect(r.alternatives.map((a) => a.score)).toEqual(r.alternatives.map((a) => a.distance).sort((a, b) => a - b));
  });

  it('expands each hypothesis once, however many rounds it stays in the beam', async () => {
    // EOS matching with one proposal per slot improves slowly, so hypotheses stay in the beam.
    const expanded: string[] = [];
    const counting: TextEncoderOracle = {
      tokens: oracle.tokens,
      dim: oracle.dim,
      words: oracle.words,
      encode: (texts) => oracle.encode(texts),
      tokenEmbedding: (id) => oracle.tokenEmbedding(id),
      embeddingGrad: (text, cot) => (expanded.push(text), oracle.embeddingGrad(text, cot)),
    };
    const decoder = new HotFlipDecoder(counting, { proposalsPerPosition: 1 });
    let rounds = 0;
    for (const { truth, start } of PLANTED.slice(0, 6)) {
      const enc = await encodePromptDetailed(ms, truth);
      const r = await decoder.decode(
        { data: enc.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: enc.length },
        { init: start, match: 'eos' },
      );
      rounds += r.rounds;
      expect(new Set(expanded).size).toBe(expanded.length);
      expanded.length = 0;
    }
    expect(rounds).toBeGreaterThan(6);
  });

  it('stops with the best text so far when cancelled', async () => {
    const decoder = new HotFlipDecoder(oracle);
    const enc = await encodePromptDetailed(ms, 'a red cat on a blue sofa');
    const ac = new AbortController();
    const p = decoder.decode(
      { data: enc.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: enc.length },
      { init: 'a dog', signal: ac.signal, onProgress: () => ac.abort() },
    );
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED', partial: { text: expect.any(String) } });
  });
});
