import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Seq2SeqStage, type EncodedBatch, type GeneratedSequence } from '../../../../src/main/engine/e2t/seq2seq.js';
import { inspectVec2TextFolder, embedderInputDim } from '../../../../src/main/engine/e2t/vec2text-layout.js';
import { normals } from '../../../../src/main/engine/models/demo/prng.js';
import { writeTinyPair } from './tiny-vec2text.js';

let dir: string;
let inverter: Seq2SeqStage;
let corrector: Seq2SeqStage;
const gen = { startTokenId: 0, eosTokenId: 1, padTokenId: 0 };

beforeAll(async () => {
  ({ dir } = await writeTinyPair({ maxLength: 10 }));
  const f = inspectVec2TextFolder(dir);
  const din = embedderInputDim(f.config.embedder);
  inverter = await Seq2SeqStage.open(dir, 'inverter', { ...f.config.inverter, embedderDim: din });
  corrector = await Seq2SeqStage.open(dir, 'corrector', { ...f.config.corrector!, embedderDim: din });
});
afterAll(async () => {
  await inverter?.release();
  await corrector?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function encodeInverter(n: number, seed = 3): Promise<EncodedBatch> {
  const e = normals(seed, 'target', n * 8, 1);
  const { embeds, mask } = await inverter.project(e, n);
  return inverter.encode(embeds, mask);
}

function texts(r: GeneratedSequence[][]): string[][] {
  return r.map((s) => s.map((q) => q.ids.join(' ')));
}

describe('graph contract', () => {
  it('the inverter projects to R pseudo-tokens and the corrector prepends 4 + 3R rows to the hypothesis', async () => {
    const e = normals(1, 'e', 2 * 8, 1);
    const inv = await inverter.project(e, 2);
    expect(inv.embeds.dims).toEqual([2, 4, 16]);
    expect(inv.mask).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    const h = normals(1, 'h', 2 * 8, 1);
    const cor = await corrector.project(e, 2, {
      embedding: h,
      ids: [
        [0, 5, 6, 1],
        [0, 7, 1],
      ],
      padId: 0,
    });
    expect(cor.embeds.dims).toEqual([2, 4 + 3 * 4 + 4, 16]);
    // The leading start token (= pad) and the padding are masked, as vec2text masks ids != pad.
    expect(cor.mask[0]!.slice(16)).toEqual([0, 1, 1, 1]);
    expect(cor.mask[1]!.slice(16)).toEqual([0, 1, 1, 0]);
  });

  it('padding a source changes nothing its unmasked positions see', async () => {
    const e = normals(2, 'e', 8, 1);
    const h = normals(2, 'h', 8, 1);
    const a = await corrector.project(e, 1, { embedding: h, ids: [[0, 5, 6, 1]], padId: 0 });
    const b = await corrector.project(Float32Array.from([...e, ...e]), 2, {
      embedding: Float32Array.from([...h, ...h]),
      ids: [
        [0, 5, 6, 1],
        [0, 5, 6, 1, 7, 8, 9],
      ],
      padId: 0,
    });
    // Source 0 of b is padded by 3 positions; its encoder rows must match a's.
    const ha = await corrector.encoderHidden(a.embeds, a.mask);
    const hb = await corrector.encoderHidden(b.embeds, b.mask);
    const rows = a.embeds.dims[1]!;
    for (let i = 0; i < rows * 16; i++) expect(hb[i]!).toBeCloseTo(ha[i]!, 4);
  });
});

describe('generation with a KV cache against the reference decode (full recompute)', () => {
  it('greedy: same tokens and log-probabilities', async () => {
    const enc = await encodeInverter(3);
    const cached = await inverter.generate(enc, { ...gen, maxLength: 10 });
    const full = await inverter.generate(enc, { ...gen, maxLength: 10, cache: false });
    expect(texts(cached)).toEqual(texts(full));
    cached.forEach((s, i) => expect(s[0]!.logProb).toBeCloseTo(full[i]![0]!.logProb, 4));
    // Different targets give different sequences (the projection reaches the decoder).
    expect(new Set(texts(cached).map((t) => t[0])).size).toBeGreaterThan(1);
  });

  it('beam 4: same 4 sequences and scores, best first; the best beats greedy', async () => {
    const enc = await encodeInverter(2, 5);
    const o = { ...gen, maxLength: 8, numBeams: 4, numReturn: 4 };
    const cached = await inverter.generate(enc, o);
    const full = await inverter.generate(enc, { ...o, cache: false });
    expect(texts(cached)).toEqual(texts(full));
    const greedy = await inverter.generate(enc, { ...gen, maxLength: 8 });
    cached.forEach((seqs, i) => {
      expect(seqs).toHaveLength(4);
      seqs.forEach((s, j) => expect(s.score).toBeCloseTo(full[i]![j]!.score, 4));
      for (let j = 1; j < seqs.length; j++) expect(seqs[j - 1]!.score).toBeGreaterThanOrEqual(seqs[j]!.score);
      const g = greedy[i]![0]!;
      expect(seqs[0]!.score).toBeGreaterThanOrEqual(g.logProb / (g.ids.length - 1) - 1e-5);
    });
  });

  it('a wide beam finds the best sequence of an exhaustive search on a short horizon', async () => {
    const enc = await encodeInverter(1, 9);
    const maxLength = 3; // start + 2 tokens: V^2 sequences
    const V = 16;
    // Exhaustive: every 2-token continuation (or EOS first), scored as the beam scores them.
    const full = await inverter.generate(enc, { ...gen, maxLength, numBeams: V * V, numReturn: 1, cache: false });
    const wide = await inverter.generate(enc, { ...gen, maxLength, numBeams: 2 * V, numReturn: 1 });
    expect(wide[0]![0]!.ids).toEqual(full[0]![0]!.ids);
  });

  it('tied embeddings (the published T5-base ties them): the cache still matches the reference', async () => {
    const tied = await writeTinyPair({ corrector: false, dims: { tieWordEmbeddings: true } });
    const f = inspectVec2TextFolder(tied.dir);
    const stage = await Seq2SeqStage.open(tied.dir, 'inverter', { ...f.config.inverter, embedderDim: 8 });
    try {
      const { embeds, mask } = await stage.project(normals(4, 'e', 16, 1), 2);
      const enc = await stage.encode(embeds, mask);
      const o = { ...gen, maxLength: 7, numBeams: 3, numReturn: 3 };
      expect(texts(await stage.generate(enc, o))).toEqual(texts(await stage.generate(enc, { ...o, cache: false })));
    } finally {
      await stage.release();
      await rm(tied.dir, { recursive: true, force: true });
    }
  });

  it('stops between steps when cancelled', async () => {
    const enc = await encodeInverter(1);
    const ac = new AbortController();
    ac.abort();
    await expect(inverter.generate(enc, { ...gen, maxLength: 10, signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
