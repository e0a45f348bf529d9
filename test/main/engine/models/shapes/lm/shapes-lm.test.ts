/** The shapes world's language model: fluency, proposals, determinism, the file format. */
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../../src/main/engine/errors.js';
import {
  createShapesLm,
  KneserNey,
  lmTrainingCaptions,
  loadShapesLm,
  saveShapesLm,
  SpellingModel,
  trainShapesLm,
  type ShapesLm,
  type ShapesLmFile,
} from '../../../../../../src/main/engine/models/shapes/lm/index.js';
import { heldOutPrompts, isHeldOut, parsePrompt, SHAPES, WORLD_VOCABULARY } from '../../../../../../src/main/engine/models/shapes/world/index.js';

let file: ShapesLmFile;
let lm: ShapesLm;
let dir: string;
beforeAll(async () => {
  file = trainShapesLm();
  lm = createShapesLm(file);
  dir = await mkdtemp(path.join(os.tmpdir(), 'shapes-lm-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ppl = async (texts: string[]) => (await lm.meanNll(texts)).map(Math.exp);

describe('shapes language model', () => {
  it('gives fluent captions, held-out ones included, a low perplexity', async () => {
    const fluent = [
      'a large red circle on the left on a gray background',
      'a small red square on the left and a large blue circle on the right on a gray background',
      ...heldOutPrompts(20, 3), // never counted: the corpus is the training split
    ];
    for (const p of await ppl(fluent)) expect(p).toBeLessThan(2.6);
  });

  it('gives shuffled words, fragments and foreign text a high but finite perplexity', async () => {
    const caption = 'a small red square on the left and a large blue circle on the right on a gray background';
    const words = caption.split(' ');
    const shuffled = [...words].sort(); // a fixed permutation
    const reversed = [...words].reverse();
    const [fluent, s, r, frag, foreign, ange] = await ppl([
      caption,
      shuffled.join(' '),
      reversed.join(' '),
      'a sma ll re d squ are on th e le ft on a gr ay back ground',
      'the cat sat on the mat',
      'a small red square on ange top on a white background',
    ]);
    for (const p of [s!, r!, frag!, foreign!]) {
      expect(p).toBeGreaterThan(50 * fluent!);
      expect(Number.isFinite(p)).toBe(true);
    }
    // One fragment in an otherwise fluent answer costs something, not everything.
    expect(ange!).toBeGreaterThan(2 * fluent!);
    expect(ange!).toBeLessThan(s!);
    // Truncated captions are less likely than complete ones (the end of text is a token).
    const [full, cut] = await lm.meanNll(['a large red circle on the left on a gray background', 'a large red circle on the left on a gray']);
    expect(cut!).toBeGreaterThan(full!);
  });

  it('proposes the grammar next words', async () => {
    const shapes = await lm.nextWords('a small red', 5);
    expect(shapes.map((w) => w.word).sort()).toEqual([...SHAPES].sort());
    expect(shapes.map((n) => n.logProb)).toEqual([...shapes.map((n) => n.logProb)].sort((a, b) => b - a));
    expect((await lm.nextWords('', 1))[0]!.word).toBe('a');
    expect((await lm.nextWords('a large blue circle on the', 2)).map((w) => w.word).sort()).toEqual(['left', 'right']);
    expect((await lm.nextWords('a large blue circle on a gray', 1))[0]!.word).toBe('background');
    // An unknown word in the prefix backs off to what follows it.
    expect((await lm.nextWords('a small zzz', 3)).length).toBe(3);
    expect(await lm.nextWords('a', 0)).toEqual([]);
    // A distribution over the vocabulary (plus the end of text, which is not a word).
    const all = await lm.nextWords('a small red circle on the left on a', WORLD_VOCABULARY.length);
    expect(all).toHaveLength(WORLD_VOCABULARY.length);
    expect(all.reduce((s, n) => s + Math.exp(n.logProb), 0)).toBeLessThanOrEqual(1 + 1e-9);
    expect(all.reduce((s, n) => s + Math.exp(n.logProb), 0)).toBeGreaterThan(0.99);
  });

  it('is deterministic and never counts a held-out caption', () => {
    expect(trainShapesLm()).toEqual(file);
    expect(trainShapesLm({ seed: 2 })).not.toEqual(file);
    expect(file.training).toEqual({ captions: 20_000, seed: 1, twoObjectFraction: 0.5, split: 'train' });
    const corpus = [...lmTrainingCaptions()];
    expect(corpus).toHaveLength(20_000);
    expect(corpus.map(parsePrompt).some(isHeldOut)).toBe(false);
    // The n-gram counts are exactly the corpus' tokens (words + end of text per caption).
    const tokens = corpus.reduce((n, c) => n + c.split(' ').length + 1, 0);
    expect(file.ngrams.reduce((n, g) => n + g[file.order]!, 0)).toBe(tokens);
    expect(file.order).toBe(4);
    expect(file.vocabulary.slice(2).sort()).toEqual([...WORLD_VOCABULARY].sort());
    expect(() => trainShapesLm({ order: 9 })).toThrow(/order/);
  });

  it('saves and loads as JSON, scoring the same', async () => {
    const f = path.join(dir, 'sub', 'lm.json');
    await saveShapesLm(f, file);
    const loaded = await loadShapesLm(f);
    const texts = ['a large red circle on the left on a gray background', 'red red red', 'xq'];
    expect(await loaded.meanNll(texts)).toEqual(await lm.meanNll(texts));
    expect(loaded.name).toBe('shapes-lm');
    expect(JSON.parse(await readFile(f, 'utf8'))).toEqual(file);
  });

  it('rejects corrupt files with a clear error', async () => {
    const bad = async (content: string, re: RegExp) => {
      const f = path.join(dir, 'bad.json');
      await writeFile(f, content);
      const err = await loadShapesLm(f).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('INVALID_MODEL');
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain(f);
    };
    await bad('{not json', /not valid JSON/);
    await bad(JSON.stringify({ ...file, format: 'gpt2' }), /format/);
    await bad(JSON.stringify({ ...file, discounts: [0.5] }), /discounts/);
    await bad(JSON.stringify({ ...file, ngrams: [[0, 0, 0, 999, 3]] }), /outside the vocabulary/);
    await bad(JSON.stringify({ ...file, ngrams: [[0, 0, 3]] }), /ngrams\[0\]/);
    await bad(JSON.stringify({ ...file, vocabulary: ['a', ...file.vocabulary.slice(1)] }), /vocabulary must start/);
    const missing = await loadShapesLm(path.join(dir, 'nope.json')).catch((e: unknown) => e);
    expect((missing as EngineError).code).toBe('MODEL_FOLDER');
  });
});

describe('Kneser–Ney and spelling pieces', () => {
  it('gives a normalised distribution in seen and unseen contexts', () => {
    // Words 0..3 predictable; trigram counts (history of 2, then the word).
    const kn = new KneserNey(3, 4, [
      [[0, 1, 2], 3],
      [[0, 1, 3], 1],
      [[1, 2, 3], 2],
      [[2, 3, 1], 1],
    ]);
    for (const h of [[0, 1], [1, 2], [3, 3], [2, 2]]) {
      const p = kn.distribution(h);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(Math.min(...p)).toBeGreaterThan(0);
    }
    expect(kn.probability([0, 1], 2)).toBeGreaterThan(kn.probability([0, 1], 3));
  });

  it('spells vocabulary-like strings more likely than random letters, and never gives zero', () => {
    const sp = new SpellingModel(['circle', 'square', 'triangle'], 0.5);
    expect(sp.logProb('circle')).toBeGreaterThan(sp.logProb('xqzvkj'));
    expect(Number.isFinite(sp.logProb('ÿ€§'))).toBe(true);
    expect(sp.logProb('')).toBeLessThan(0);
  });
});
