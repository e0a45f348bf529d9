/**
 * The language model in the HotFlip decoder: next-word proposals, the fluency term, n-best
 * alternatives. The LM is a word-bigram model estimated from a small caption corpus over the
 * demo vocabulary (testing/bigram-lm.ts); the text encoder is the demo set's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { writeGpt2Fixture } from '../hf/gpt2-fixture.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { readModel } from '../../../../src/main/engine/onnx/model-io.js';
import { align, alignedDistance, HotFlipDecoder, splitWords } from '../../../../src/main/engine/e2t/hotflip-decoder.js';
import { loadCausalLm, type LanguageModel } from '../../../../src/main/engine/e2t/language-model.js';
import type { TextEncoderOracle } from '../../../../src/main/engine/e2t/oracle.js';
import { createTextEncoderOracle } from '../../../../src/main/engine/e2t/text-encoder-oracle.js';
import { BigramLm, CAPTION_CORPUS } from './bigram-lm.js';
import { PLANTED } from './planted-prompts.js';
import type { MatchTarget, TextEmbedding } from '../../../../src/main/engine/e2t/types.js';

let ms: ModelSet;
let oracle: Awaited<ReturnType<typeof createTextEncoderOracle>>;
let vocab: string[];

beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), skipVaeEncoder: true });
  oracle = await createTextEncoderOracle(await readModel(path.join(ms.dir, 'text_encoder', 'model.onnx')), ms.tokenizer);
  vocab = oracle.words.map((w) => w.word);
});
afterAll(async () => {
  await oracle?.release();
  await ms?.release();
});

async function targetOf(text: string): Promise<TextEmbedding> {
  const [e] = await oracle.encode([text]);
  return { data: e!.embedding, tokens: oracle.tokens, dim: oracle.dim, length: e!.length };
}

/** The oracle, recording every text it encodes. */
function recordingOracle(inner: TextEncoderOracle): TextEncoderOracle & { encoded: string[] } {
  const encoded: string[] = [];
  return {
    tokens: inner.tokens,
    dim: inner.dim,
    words: inner.words,
    encoded,
    encode: (texts) => {
      encoded.push(...texts);
      return inner.encode(texts);
    },
    embeddingGrad: (text, cot) => inner.embeddingGrad(text, cot),
    tokenEmbedding: (id) => inner.tokenEmbedding(id),
  };
}

/** Exact-recovery count over planted prompts. */
async function recover(decoder: HotFlipDecoder, match: MatchTarget, cases: typeof PLANTED): Promise<{ hits: number; misses: string[] }> {
  const misses: string[] = [];
  for (const { truth, start } of cases) {
    const r = await decoder.decode(await targetOf(truth), { init: start, match });
    if (r.text !== truth) misses.push(`"${truth}" <- "${start}" gave "${r.text}"`);
  }
  return { hits: cases.length - misses.length, misses };
}

describe('bigram test LM', () => {
  it('is a language model of the corpus: fluent word orders score better, next words follow the corpus', async () => {
    const lm = new BigramLm(CAPTION_CORPUS, vocab);
    expect(CAPTION_CORPUS.flatMap(splitWords).filter((w) => !vocab.includes(w))).toEqual([]);
    const [fluent, shuffled] = await lm.meanNll(['a dog in the snow', 'snow the in dog a']);
    expect(fluent!).toBeLessThan(shuffled! - 1);
    const next = await lm.nextWords('a cup', 3);
    expect(next[0]!.word).toBe('of');
    expect(next.map((n) => n.logProb)).toEqual([...next.map((n) => n.logProb)].sort((a, b) => b - a));
    // A distribution: probabilities after any context sum to 1 over the vocabulary.
    const all = await lm.nextWords('the', vocab.length);
    expect(all.reduce((s, n) => s + Math.exp(n.logProb), 0)).toBeCloseTo(1, 6);
  });
});

describe('LM proposals', () => {
  // Matching only the EOS vector (what the reference's vec2text inverter reads) leaves the
  // gradient far less to go on than matching every position, so one HotFlip proposal per slot
  // rarely finds the missing word; the LM knows which words follow the prefix.
  it('recover a missing word that HotFlip alone misses with one proposal per slot (EOS matching)', async () => {
    const truth = 'an old house in the forest';
    const target = await targetOf(truth);
    const alone = await new HotFlipDecoder(oracle, { proposalsPerPosition: 1 }).decode(target, {
      init: 'an old house forest',
      match: 'eos',
    });
    const withLm = await new HotFlipDecoder(oracle, { proposalsPerPosition: 1, lm: new BigramLm(CAPTION_CORPUS, vocab) }).decode(target, {
      init: 'an old house forest',
      match: 'eos',
    });
    console.log(
      `[e2t] "${truth}" from "an old house forest", EOS, 1 HotFlip proposal/slot: alone "${alone.text}", with LM "${withLm.text}"`,
    );
    expect(alone.text).not.toBe(truth);
    expect(withLm.text).toBe(truth);
    expect(withLm.distance).toBeLessThan(1e-8);
  });

  it('raise exact recovery over the planted prompts (EOS matching, 1 HotFlip proposal per slot)', async () => {
    // Every other planted prompt keeps the test short (all 24: 3 alone, 12 with the LM).
    const cases = PLANTED.filter((_, i) => i % 2 === 0);
    const alone = await recover(new HotFlipDecoder(oracle, { proposalsPerPosition: 1 }), 'eos', cases);
    const withLm = await recover(
      new HotFlipDecoder(oracle, { proposalsPerPosition: 1, lm: new BigramLm(CAPTION_CORPUS, vocab) }),
      'eos',
      cases,
    );
    console.log(
      `[e2t] EOS matching, 1 HotFlip proposal/slot: recovered ${alone.hits}/${cases.length} alone, ${withLm.hits}/${cases.length} with 4 LM proposals/slot` +
        `\n  misses with LM:\n  ${withLm.misses.join('\n  ')}`,
    );
    expect(withLm.hits).toBeGreaterThanOrEqual(alone.hits + 3);
  }, 600_000);

  it('keep the exact recovery of every planted prompt with the default settings (prompt matching, fluency 0.01)', async () => {
    const decoder = new HotFlipDecoder(oracle, { lm: new BigramLm(CAPTION_CORPUS, vocab) });
    const misses: string[] = [];
    for (const { truth, start } of PLANTED) {
      const r = await decoder.decode(await targetOf(truth), { init: start, match: 'prompt', fluencyWeight: 0.01 });
      if (r.text !== truth) misses.push(`"${truth}" <- "${start}" gave "${r.text}"`);
    }
    console.log(
      `[e2t] with the bigram LM (4 proposals/slot, fluency 0.01): recovered ${PLANTED.length - misses.length}/${PLANTED.length}${misses.length ? `\n  ${misses.join('\n  ')}` : ''}`,
    );
    expect(misses).toEqual([]);
  }, 600_000);

  it('propose only words the text encoder spells as one token, and ask the LM once per prefix and text', async () => {
    // The LM's favourite word after "a" is not in the encoder's vocabulary.
    const corpus = [...CAPTION_CORPUS, ...Array.from({ length: 50 }, () => 'a zqxv cat')];
    const lm = new BigramLm(corpus, [...vocab, 'zqxv']);
    expect((await lm.nextWords('a', 1))[0]!.word).toBe('zqxv');
    lm.calls.prefixes.length = 0;
    const rec = recordingOracle(oracle);
    const decoder = new HotFlipDecoder(rec, { proposalsPerPosition: 2, lmProposalsPerPosition: 3, lm });
    const r = await decoder.decode(await targetOf('a red cat on a blue sofa'), { init: 'a green cat on a sofa', fluencyWeight: 0.01 });
    expect(r.text).toBe('a red cat on a blue sofa');
    expect(rec.encoded.filter((t) => t.includes('zqxv'))).toEqual([]);
    expect(new Set(lm.calls.prefixes).size).toBe(lm.calls.prefixes.length);
    expect(new Set(lm.calls.texts).size).toBe(lm.calls.texts.length);
    // The fluency term is only computed where it can change the ranking (it is >= 0).
    expect(lm.calls.texts.length).toBeLessThan(rec.encoded.length);
    // A second decode reuses the cache.
    const before = { prefixes: lm.calls.prefixes.length, texts: lm.calls.texts.length };
    await decoder.decode(await targetOf('a red cat on a blue sofa'), { init: 'a green cat on a sofa', fluencyWeight: 0.01 });
    expect(lm.calls.prefixes.length).toBe(before.prefixes);
    expect(lm.calls.texts.length).toBe(before.texts);
  });

  it('are switched off by lmProposalsPerPosition 0 (the LM still scores fluency)', async () => {
    const lm = new BigramLm(CAPTION_CORPUS, vocab);
    const decoder = new HotFlipDecoder(oracle, { lmProposalsPerPosition: 0, lm });
    const r = await decoder.decode(await targetOf('a fox in the snow'), { init: 'a wolf in the snow', fluencyWeight: 0.01 });
    expect(r.text).toBe('a fox in the snow');
    expect(lm.calls.prefixes).toEqual([]);
    expect(lm.calls.texts.length).toBeGreaterThan(0);
  });
});

describe('fluency term', () => {
  // Targets between a fluent text A and the same words in a worse order B, slightly closer to
  // B: without the LM the decoder returns B, with it A, exactly when
  // weight * (NLL(B) - NLL(A)) exceeds the distance gap d(A) - d(B).
  const PAIRS = [
    ['a dog in the snow', 'a dog the in snow'],
    ['an old house in the forest', 'an old house the in forest'],
    ['a boat on the river', 'a boat the on river'],
  ] as const;
  const ALPHA = 0.48;

  it('picks the fluent order among near-equal distances', async () => {
    const lm = new BigramLm(CAPTION_CORPUS, vocab);
    for (const [fluent, reordered] of PAIRS) {
      const [ea, eb] = await oracle.encode([fluent, reordered]);
      const data = ea!.embedding.map((a, i) => ALPHA * a + (1 - ALPHA) * eb!.embedding[i]!);
      const target = { data, tokens: oracle.tokens, dim: oracle.dim, length: ea!.length };
      const al = align('prompt', oracle.tokens, ea!.length, ea!.length);
      const gap = alignedDistance(ea!.embedding, target, al, false).distance - alignedDistance(eb!.embedding, target, al, false).distance;
      const [nllA, nllB] = await lm.meanNll([fluent, reordered]);
      expect(gap).toBeGreaterThan(0);
      expect(gap).toBeLessThan(0.03);
      const weight = 0.01;
      expect(weight * (nllB! - nllA!)).toBeGreaterThan(gap);

      const decoder = new HotFlipDecoder(oracle, { lm });
      const without = await decoder.decode(target, { init: reordered, fluencyWeight: 0 });
      const withFluency = await decoder.decode(target, { init: reordered, fluencyWeight: weight });
      console.log(
        `[e2t] fluency: "${reordered}" vs "${fluent}", gap ${gap.toFixed(4)}, NLL ${nllB!.toFixed(2)} vs ${nllA!.toFixed(2)}: weight 0 -> "${without.text}", ${weight} -> "${withFluency.text}"`,
      );
      expect(without.text).toBe(reordered);
      expect(withFluency.text).toBe(fluent);
      // The reported distance stays the plain embedding distance.
      expect(withFluency.distance).toBeCloseTo(gap + without.distance, 6);
    }
  });

  it('is ignored without an LM', async () => {
    const target = await targetOf('a fox in the snow');
    const r = await new HotFlipDecoder(oracle).decode(target, { init: 'a wolf in the snow', fluencyWeight: 5 });
    expect(r.text).toBe('a fox in the snow');
    expect(r.alternatives[0]!.score).toBe(r.distance);
  });
});

describe('n-best alternatives', () => {
  it('are distinct, best score first, start with the answer, and score = distance + weight * NLL', async () => {
    const lm = new BigramLm(CAPTION_CORPUS, vocab);
    const decoder = new HotFlipDecoder(oracle, { lm });
    const target = await targetOf('a castle on a snowy mountain');
    const weight = 0.01;
    const r = await decoder.decode(target, { init: 'a castle on a mountain', fluencyWeight: weight, nBest: 10 });
    expect(r.text).toBe('a castle on a snowy mountain');
    expect(r.alternatives).toHaveLength(10);
    expect(r.alternatives[0]).toEqual({ text: r.text, distance: r.distance, score: expect.any(Number) });
    expect(new Set(r.alternatives.map((a) => a.text)).size).toBe(10);
    const scores = r.alternatives.map((a) => a.score);
    expect(scores).toEqual([...scores].sort((a, b) => a - b));
    // Every entry is scored exactly: re-encode and re-score.
    const enc = await oracle.encode(r.alternatives.map((a) => a.text));
    const nll = await lm.meanNll(r.alternatives.map((a) => a.text));
    r.alternatives.forEach((a, i) => {
      const d = alignedDistance(enc[i]!.embedding, target, align('prompt', oracle.tokens, target.length!, enc[i]!.length), false).distance;
      expect(a.distance).toBeCloseTo(d, 7);
      expect(a.score).toBeCloseTo(d + weight * nll[i]!, 7);
    });
  });

  it('default to the beam width', async () => {
    const target = await targetOf('a girl reading a book');
    const r = await new HotFlipDecoder(oracle).decode(target, { init: 'a boy reading a book', beam: 3 });
    expect(r.text).toBe('a girl reading a book');
    expect(r.alternatives.map((a) => a.text)[0]).toBe(r.text);
    expect(r.alternatives).toHaveLength(3);
    expect(new Set(r.alternatives.map((a) => a.text)).size).toBe(3);
    const one = await new HotFlipDecoder(oracle).decode(target, { init: 'a boy reading a book', nBest: 1 });
    expect(one.alternatives).toEqual([{ text: one.text, distance: one.distance, score: one.distance }]);
  });
});

// Integration with the real transformers.js loader on the tiny GPT-2 fixture (hf/testing).
describe('with the transformers.js GPT-2 loader (tiny fixture)', () => {
  it('recovers a planted prompt with LM proposals and fluency through loadCausalLm', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-e2t-gpt2-'));
    try {
      await writeGpt2Fixture(cacheDir);
      const gpt2 = await loadCausalLm({ cacheDir, offline: true });
      const prefixes: string[] = [];
      const lm: LanguageModel = {
        name: gpt2.name,
        meanNll: (texts) => gpt2.meanNll(texts),
        nextWords: (prefix, k) => (prefixes.push(prefix), gpt2.nextWords(prefix, k)),
      };
      const decoder = new HotFlipDecoder(oracle, { proposalsPerPosition: 1, lm });
      const truth = 'a red cat on a blue sofa';
      const r = await decoder.decode(await targetOf(truth), { init: 'a cat on a sofa', fluencyWeight: 0.01, match: 'prompt' });
      expect(r.text).toBe(truth);
      expect(prefixes).toContain('a');
      expect(r.alternatives[0]!.score).toBeGreaterThan(r.distance);
      const [nll] = await lm.meanNll([truth]);
      expect(r.alternatives[0]!.score).toBeCloseTo(r.distance + 0.01 * nll!, 6);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
