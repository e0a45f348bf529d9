import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeGpt2Fixture, type Gpt2Fixture } from '../hf/gpt2-fixture.js';
import { loadCausalLm, type LanguageModel } from '../../../../src/main/engine/e2t/language-model.js';

describe('fluency language model', () => {
  it('says how to install GPT-2 when it is not in the cache (offline)', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-lm-'));
    try {
      await expect(loadCausalLm({ cacheDir, offline: true })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringContaining('inversion-studio models download gpt2'),
      });
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

// A generated Xenova/gpt2 stand-in (hf/testing/gpt2-fixture.ts): the real repo's files and ONNX
// I/O, with a bigram model of a small prompt corpus as weights.
describe('GPT-2 loader on a fixture in the hub layout', () => {
  let cacheDir: string;
  let fx: Gpt2Fixture;
  let lm: LanguageModel;
  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-lm-fx-'));
    // The manifest's file list: onnx/decoder_model_merged.onnx only (no onnx/model.onnx).
    fx = await writeGpt2Fixture(cacheDir, { layout: 'manifest' });
    lm = await loadCausalLm({ cacheDir, offline: true });
  });
  afterAll(async () => {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('scores fluent prompts below scrambled ones', async () => {
    const [fluent, scrambled, fluent2, scrambled2] = await lm.meanNll([
      'a red cat',
      'cat a red',
      'a blue boat on the sea',
      'sea the on boat blue a',
    ]);
    expect(fluent).toBeLessThan(scrambled!);
    expect(fluent2).toBeLessThan(scrambled2!);
    // The corpus continuation carries most of the mass: well below the uniform NLL log(V).
    expect(fluent).toBeLessThan(0.5 * Math.log(fx.bpe.size));
  });

  it('meanNll is the BOS-conditioned per-token NLL of the bigram tables', async () => {
    const [nll] = await lm.meanNll(['a red cat']);
    const ids = [fx.bpe.eosId, fx.bpe.vocab.get('a')!, fx.bpe.vocab.get('\u0120red')!, fx.bpe.vocab.get('\u0120cat')!];
    const { contextOf, logProbs, vocabSize } = fx.tables;
    let expected = 0;
    for (let p = 1; p < ids.length; p++) expected -= logProbs[contextOf[ids[p - 1]!]! * vocabSize + ids[p]!]!;
    expect(nll).toBeCloseTo(expected / 3, 4);
  });

  it('nextWords gives the corpus continuation with its log-probability, most likely first', async () => {
    const next = await lm.nextWords('a red', 5);
    expect(next).toHaveLength(5);
    expect(next[0]!.word).toBe('cat');
    for (let i = 1; i < next.length; i++) expect(next[i]!.logProb).toBeLessThanOrEqual(next[i - 1]!.logProb);
    // 'red' is followed by 'cat' twice in the corpus and nothing else: Witten-Bell gives it (2 + Puni) / 3.
    expect(next[0]!.logProb).toBeGreaterThan(Math.log(0.6));
    expect(next[0]!.logProb).toBeLessThan(Math.log(0.7));
    // Trailing spaces do not change the context.
    expect((await lm.nextWords('a red ', 1))[0]!.word).toBe('cat');
  });

  it('nextWords at the start of a text proposes sentence-initial words', async () => {
    const next = await lm.nextWords('', 3);
    expect(next.map((w) => w.word)).toContain('a');
    expect(next.map((w) => w.word)).toContain('an');
    for (const { word } of next) expect(word).toMatch(/^[\p{L}\p{N}]+$/u);
  });

  it('nextWords skips punctuation: after "old man" the corpus has a comma, the words come next', async () => {
    const next = await lm.nextWords('a portrait of an old man', 4);
    expect(next).toHaveLength(4);
    for (const { word } of next) expect(word).toMatch(/^[\p{L}\p{N}]+$/u);
  });
});

describe('GPT-2 loader in the copied-hub layout with onnx/model.onnx', () => {
  it('loads <cache>/Xenova/gpt2 with onnx/model.onnx (the file transformers.js v3+ looks for)', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-lm-hub-'));
    try {
      await writeGpt2Fixture(cacheDir, { layout: 'hub', onnxFiles: ['model'] });
      const lm = await loadCausalLm({ cacheDir, offline: true });
      const [a, b] = await lm.meanNll(['a green frog sitting on a leaf', 'leaf a on sitting frog green a']);
      expect(a).toBeLessThan(b!);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('a folder without ONNX weights is NOT_INSTALLED naming the missing file, not a crash', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-lm-empty-'));
    try {
      await writeGpt2Fixture(cacheDir, { layout: 'hub', onnxFiles: [] });
      await expect(loadCausalLm({ cacheDir, offline: true })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringMatching(/incomplete \(missing onnx\/model\.onnx/),
      });
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('a half-installed folder fails, and loads in the same process once completed', async () => {
    // transformers.js memoises a missing tokenizer_config.json per id for the whole process; the
    // loader must never let it see an incomplete folder.
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-lm-half-'));
    try {
      await mkdir(path.join(cacheDir, 'Xenova', 'gpt2'), { recursive: true });
      await writeFile(path.join(cacheDir, 'Xenova', 'gpt2', 'config.json'), '{}');
      await expect(loadCausalLm({ cacheDir, offline: true })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringMatching(/missing tokenizer\.json, tokenizer_config\.json/),
      });
      await writeGpt2Fixture(cacheDir, { layout: 'hub' });
      const lm = await loadCausalLm({ cacheDir, offline: true });
      expect((await lm.nextWords('a green', 1))[0]!.word).toBe('frog');
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
