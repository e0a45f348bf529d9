import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPngMetadata } from '../../../../src/main/engine/image/image-io.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../../src/main/engine/diffusion/pipeline.js';
import {
  applyTokenWeights,
  encodeWeightedPrompt,
  parseWeightedText,
  tokenWeights,
} from '../../../../src/main/engine/diffusion/prompt-weights.js';
import { encodePromptDetailed } from '../../../../src/main/engine/diffusion/text-encoder.js';

const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;

describe('prompt weights (pure)', () => {
  it('leaves text without syntax verbatim and unweighted', () => {
    expect(parseWeightedText('a red cat,, on a   sofa')).toEqual({ plain: 'a red cat,, on a   sofa' });
    // Syntax whose weights are all 1 (a comment, a weight of 1.0) still needs no weighting.
    expect(parseWeightedText('a red cat\n// note')).toEqual({ plain: 'a red cat' });
    expect(parseWeightedText('a (red:1.0) cat')).toEqual({ plain: 'a red cat' });
  });

  it('gives each token the weight of its word (the tokenizer says which word a token came from)', () => {
    const { plain, weights } = parseWeightedText('a (red:1.5) cat [sofa]');
    expect(plain).toBe('a red cat sofa');
    // BOS, a, red, cat, so+fa (one word, two tokens), EOS.
    const span = (w: string) => ({ start: plain.indexOf(w), end: plain.indexOf(w) + w.length });
    const spans = [null, span('a'), span('red'), span('cat'), span('sofa'), span('sofa'), null];
    const w = tokenWeights(weights!, spans, 10);
    expect(Array.from(w).map((x) => Number(x.toFixed(4)))).toEqual([1, 1, 1.5, 1, 0.9091, 0.9091, 1, 1, 1, 1]);
  });

  it('scales rows by their weights and keeps the mean (A1111)', () => {
    const dim = 3;
    const emb = Float32Array.from([1, 2, 3, 1, 1, 1, 2, 2, 2]);
    const out = applyTokenWeights(emb, Float32Array.from([1, 2, 1]), dim);
    expect(mean(out)).toBeCloseTo(mean(emb), 6);
    // Row 1 doubled relative to the others, then everything rescaled by one factor.
    expect(out[3]! / out[0]!).toBeCloseTo(2, 6);
    expect(out[6]! / out[0]!).toBeCloseTo(2, 6);
    expect(emb[3]).toBe(1); // input untouched
  });
});

describe('prompt weights on the demo model set', () => {
  let ms: ModelSet;
  beforeAll(async () => {
    ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu' });
  }, 120_000);
  afterAll(async () => {
    await ms?.release();
  });

  it('encodes unweighted text exactly as before and weights only the emphasised word', async () => {
    const plain = await encodePromptDetailed(ms, 'a red cat on a blue sofa');
    const same = await encodeWeightedPrompt(ms, 'a red cat on a blue sofa');
    expect(Buffer.from(same.embedding.buffer).equals(Buffer.from(plain.embedding.buffer))).toBe(true);

    const weighted = await encodeWeightedPrompt(ms, 'a (red:1.4) cat on a blue sofa');
    expect(weighted.tokens).toEqual(plain.tokens);
    expect(mean(weighted.embedding)).toBeCloseTo(mean(plain.embedding), 5);
    const D = ms.io.hiddenSize;
    const ratio = (p: number) => weighted.embedding[p * D + 5]! / plain.embedding[p * D + 5]!;
    // 'red' is position 2 (after BOS, 'a'): 1.4× the common rescale factor of every other row.
    expect(ratio(2) / ratio(1)).toBeCloseTo(1.4, 4);
    expect(ratio(3)).toBeCloseTo(ratio(1), 5);
    expect(ratio(40)).toBeCloseTo(ratio(1), 5);
  });

  it('keeps weights after non-ASCII words (byte-level tokens do not spell the word)', async () => {
    for (const prompt of ['a café, (red:1.5) cat', 'a nai\u0308ve (red:1.5) cat']) {
      const plain = await encodePromptDetailed(ms, parseWeightedText(prompt).plain);
      const weighted = await encodeWeightedPrompt(ms, prompt);
      const D = ms.io.hiddenSize;
      const red = plain.tokens.indexOf('red</w>');
      expect(red).toBeGreaterThan(0);
      const ratio = (p: number) => weighted.embedding[p * D + 5]! / plain.embedding[p * D + 5]!;
      expect(ratio(red) / ratio(1)).toBeCloseTo(1.5, 4);
    }
  });

  it('generate() applies the weights and records the prompt as written', async () => {
    const req = { seed: 3, steps: 3, scheduler: 'ddim' as const, guidance: 7.5, width: 64, height: 64 };
    const plain = await generate(ms, { ...req, prompt: 'a red cat on a blue sofa' });
    const weighted = await generate(ms, { ...req, prompt: 'a (red:1.6) cat on a [blue] sofa' });
    let diff = 0;
    for (let i = 0; i < plain.image.length; i++) diff += Math.abs(plain.image[i]! - weighted.image[i]!);
    expect(diff / plain.image.length).toBeGreaterThan(1e-3);
    const meta = readPngMetadata(weighted.png);
    expect(meta.parameters?.startsWith('a (red:1.6) cat on a [blue] sofa\n')).toBe(true);
  });
});
