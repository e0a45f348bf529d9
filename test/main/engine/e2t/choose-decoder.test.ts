import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { encodePromptDetailed } from '../../../../src/main/engine/diffusion/text-encoder.js';
import { defaultWordListPath } from '../../../../src/main/engine/diffusion/tokenizer/index.js';
import { EngineError } from '../../../../src/main/engine/errors.js';
import {
  decodeEmbedding,
  findE2tFolder,
  modelSetWordList,
  openE2tDecoder,
  textEncoderOfModelSet,
  type OpenE2tOptions,
} from '../../../../src/main/engine/e2t/choose-decoder.js';
import { loadVec2Text } from '../../../../src/main/engine/e2t/vec2text.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { HotFlipDecoder } from '../../../../src/main/engine/e2t/hotflip-decoder.js';
import { bagOfWordsEncoder, linearOracle } from './fake-encoders.js';
import { tempDir, writeTinyPair } from './tiny-vec2text.js';

const VOCAB = ['a', 'red', 'blue', 'green', 'cat', 'dog', 'on', 'the', 'sofa', 'ange', 'riangle', 'sq'];
const DICTIONARY = ['a', 'red', 'blue', 'green', 'cat', 'dog', 'on', 'the', 'sofa'];
const FRAGMENTS = ['ange', 'riangle', 'sq'];
const dirs: string[] = [];
let pairDir: string;

beforeAll(async () => {
  pairDir = (await writeTinyPair()).dir;
  dirs.push(pairDir);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function modelSet(o: { e2t?: boolean; words?: string[] } = {}): Promise<string> {
  const dir = await tempDir('set-');
  dirs.push(dir);
  if (o.e2t) await cp(pairDir, path.join(dir, 'e2t'), { recursive: true });
  if (o.words) await writeFile(path.join(dir, 'words.txt'), `# the set's vocabulary\n${o.words.join('\n')}\n`);
  return dir;
}

function options(extra: Partial<OpenE2tOptions> = {}): OpenE2tOptions {
  const oracle = linearOracle(VOCAB, { dim: 8, tokens: 12 });
  return { encoder: bagOfWordsEncoder(8, 12), oracle: async () => oracle, ...extra };
}

describe('choosing the decoder', () => {
  it('auto takes the pair installed in <set>/e2t, else the search', async () => {
    const withPair = await modelSet({ e2t: true });
    expect(findE2tFolder(withPair)).toBe(path.join(withPair, 'e2t'));
    const a = await openE2tDecoder(options({ modelSetDir: withPair }));
    expect(a.kind).toBe('vec2text');
    expect(a.folder).toBe(path.join(withPair, 'e2t'));
    await a.release();

    const bare = await modelSet();
    expect(findE2tFolder(bare)).toBeUndefined();
    const b = await openE2tDecoder(options({ modelSetDir: bare }));
    expect(b.kind).toBe('search');
    expect(b.decoder).toBeInstanceOf(HotFlipDecoder);
    expect(b.dictionaryFile).toBe(defaultWordListPath());
  });

  it('search is used when asked for even with a pair installed; vec2text without one is NOT_INSTALLED', async () => {
    const withPair = await modelSet({ e2t: true });
    expect((await openE2tDecoder(options({ modelSetDir: withPair, choice: 'search' }))).kind).toBe('search');
    const bare = await modelSet();
    const err = await openE2tDecoder(options({ modelSetDir: bare, choice: 'vec2text' })).catch((e: unknown) => e);
    expect((err as EngineError).code).toBe('NOT_INSTALLED');
    expect((err as Error).message).toMatch(/export-e2t\.py.*--e2t search/s);
  });

  it('auto falls back to the search, with a warning, when the installed pair is for another text encoder', async () => {
    const withPair = await modelSet({ e2t: true });
    const warnings: string[] = [];
    const opened = await openE2tDecoder(
      options({ modelSetDir: withPair, encoder: bagOfWordsEncoder(16, 12), onWarning: (w) => warnings.push(w) }),
    );
    expect(opened.kind).toBe('search');
    expect(warnings.join('\n')).toMatch(/cannot be used.*width 8.*16 wide/s);
    const err = await openE2tDecoder(options({ modelSetDir: withPair, choice: 'vec2text', encoder: bagOfWordsEncoder(16, 12) })).catch(
      (e: unknown) => e,
    );
    expect((err as EngineError).code).toBe('MODEL_FOLDER');
  });

  it("a model set's own words.txt is its dictionary", async () => {
    const set = await modelSet({ words: DICTIONARY });
    expect(modelSetWordList(set)).toEqual({ file: path.join(set, 'words.txt'), words: DICTIONARY });
    expect(modelSetWordList().file).toBe(defaultWordListPath());
    const opened = await openE2tDecoder(options({ modelSetDir: set }));
    expect(opened.dictionaryFile).toBe(path.join(set, 'words.txt'));
  });
});

describe('the search with a whole-word dictionary', () => {
  const target = async (text: string) => {
    const oracle = linearOracle(VOCAB, { dim: 8, tokens: 12 });
    const [e] = await oracle.encode([text]);
    return { data: e!.embedding, tokens: 12, dim: 8, length: e!.length };
  };

  it('never proposes a word outside the dictionary (the tokenizer fragments a target may pull towards)', async () => {
    const t = await target('a red ange cat on the sofa');
    const free = await decodeEmbedding(t, { ...options(), dictionary: false, decode: { init: 'a red cat on the sofa', match: 'prompt' } });
    expect(free.decoder).toBe('search');
    expect(free.text).toBe('a red ange cat on the sofa');
    const set = await modelSet({ words: DICTIONARY });
    const r = await decodeEmbedding(t, {
      ...options({ modelSetDir: set }),
      decode: { init: 'a red cat on the sofa', match: 'prompt', nBest: 8 },
    });
    for (const alt of r.alternatives) for (const w of alt.text.split(' ')) expect(FRAGMENTS).not.toContain(w);
    expect(r.distance).toBeGreaterThan(free.distance);
  });

  it('a dictionary without one single-token word of the encoder is refused', async () => {
    expect(() => new HotFlipDecoder(linearOracle(VOCAB), { dictionary: ['zebra', 'quokka'] })).toThrow(/no word of the dictionary/);
  });

  it('an LM only proposes dictionary words too', async () => {
    const proposed: string[] = [];
    const lm = {
      name: 'fixed',
      async meanNll(texts: string[]) {
        return texts.map(() => 1);
      },
      async nextWords() {
        return FRAGMENTS.concat(['blue']).map((word) => ({ word, logProb: -1 }));
      },
    };
    const set = await modelSet({ words: DICTIONARY });
    await mkdir(set, { recursive: true });
    const opened = await openE2tDecoder(options({ modelSetDir: set, choice: 'search', lm, search: { proposalsPerPosition: 1 } }));
    const r = await opened.decoder.decode(await target('a blue cat'), {
      init: 'a cat',
      match: 'prompt',
      onProgress: (p) => proposed.push(p.best),
    });
    for (const t of [r.text, ...proposed, ...r.alternatives.map((a) => a.text)])
      for (const w of t.split(' ')) expect(FRAGMENTS).not.toContain(w);
    expect(r.text).toBe('a blue cat');
  });
});

describe("a pair on a model set's own text encoder", () => {
  it('re-encodes hypotheses with the set tokenizer and encoder (batched like encodePrompt) and reads the EOS row', async () => {
    const ms = await loadModelSet('demo', { cacheDir: testCacheDir(), skipVaeEncoder: true });
    const { dir } = await writeTinyPair({ embedder: { dim: ms.io.hiddenSize, read: 'eos' } });
    dirs.push(dir);
    const encoder = textEncoderOfModelSet(ms, 2);
    const d = await loadVec2Text(dir, { embedder: encoder });
    try {
      const texts = ['a red cat on a blue sofa', 'a dog', 'an old house in the forest'];
      const enc = await encoder.encode(texts);
      for (const [i, t] of texts.entries()) {
        const ref = await encodePromptDetailed(ms, t);
        expect(enc[i]!.length).toBe(ref.length);
        for (let k = 0; k < ref.embedding.length; k += 97) expect(enc[i]!.embedding[k]!).toBeCloseTo(ref.embedding[k]!, 5);
      }
      const target = await encodePromptDetailed(ms, texts[0]!);
      const r = await d.invert(
        { data: target.embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: target.length },
        { steps: 2, beam: 2 },
      );
      const [own] = await encoder.encode([r.text]);
      const D = ms.io.hiddenSize;
      const eos = own!.embedding.slice((own!.length - 1) * D, own!.length * D);
      const e = d.targetVector({ data: target.embedding, tokens: ms.io.sequenceLength, dim: D, length: target.length });
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let k = 0; k < D; k++) {
        dot += eos[k]! * e[k]!;
        na += eos[k]! ** 2;
        nb += e[k]! ** 2;
      }
      expect(dot / Math.sqrt(na * nb)).toBeCloseTo(r.cosine, 5);
    } finally {
      await d.release();
      await ms.release();
    }
  });
});
