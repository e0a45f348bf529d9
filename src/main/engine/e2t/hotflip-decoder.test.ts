import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../diffusion/model-set.js';
import { encodePromptDetailed } from '../diffusion/text-encoder.js';
import { readModel } from '../onnx/model-io.js';
import { testCacheDir } from '../models/demo/test-support.js';
import path from 'node:path';
import { align, alignedDistance, HotFlipDecoder, splitWords } from './hotflip-decoder.js';
import { createTextEncoderOracle } from './text-encoder-oracle.js';

/**
 * Planted prompts over the demo vocabulary (models/demo/words.txt) and a start that drops or
 * replaces words. Kept here (not imported from the bench) so the test pins its own cases.
 */
const PLANTED: { truth: string; start: string }[] = [
  { truth: 'a red cat on a blue sofa', start: 'a green cat on a sofa' },
  { truth: 'an old house in the forest', start: 'an old house forest' },
  { truth: 'a small boat on the lake at sunset', start: 'a small car on the lake' },
  { truth: 'a white horse running on the beach', start: 'a white horse on the beach' },
  { truth: 'a dragon flying over the sea', start: 'a bird flying over the sea' },
  { truth: 'a lighthouse in a storm', start: 'a castle in a storm' },
  { truth: 'a portrait of a woman with a yellow hat', start: 'a portrait of a woman with a hat' },
  { truth: 'a robot in the city at night', start: 'a robot in the city' },
  { truth: 'a castle on a snowy mountain', start: 'a castle on a mountain' },
  { truth: 'a green tree in a garden', start: 'a tree in a garden' },
  { truth: 'a brown dog with a red ball', start: 'a black dog with a ball' },
  { truth: 'flowers in a glass vase', start: 'flowers in a vase' },
  { truth: 'a girl reading a book', start: 'a boy reading a book' },
  { truth: 'a bowl of fruit on a table', start: 'a bowl of soup on a table' },
  { truth: 'an oil painting of a ship', start: 'a painting of a ship' },
  { truth: 'a watercolor of a village', start: 'a watercolor village' },
  { truth: 'a cup of coffee on a wooden desk', start: 'a cup of tea on a desk' },
  { truth: 'a fox in the snow', start: 'a wolf in the snow' },
  { truth: 'a red train on a stone bridge', start: 'a train on a bridge' },
  { truth: 'a photo of a cat on the grass', start: 'a photo of a dog on grass' },
  { truth: 'an owl sitting on a branch', start: 'an owl on a branch' },
  { truth: 'a city street in the rain', start: 'a city street in the snow' },
  { truth: 'a knight with a sword', start: 'a knight with a shield' },
  { truth: 'a bridge over a river at dawn', start: 'a bridge over a river' },
];

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
      const r = await decoder.decode({ data: enc.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: enc.length }, { init: start, match: 'prompt' });
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
    const r = await decoder.decode({ data: enc.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: enc.length }, { init: 'a fox in the snow' });
    expect(r.text).toBe('a fox in the snow');
    expect(r.distance).toBe(0);
    expect(r.rounds).toBe(1);
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
