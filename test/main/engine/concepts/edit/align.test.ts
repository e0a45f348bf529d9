import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  diffTokenised,
  mapAttention,
  mappedPositions,
  tokenisePrompt,
  tokenMapping,
  type TokenMapping,
} from '../../../../../src/main/engine/concepts/edit/align.js';
import { loadClipTokenizer, type ClipTokenizer } from '../../../../../src/main/engine/diffusion/tokenizer/index.js';
import { testDemoModelSet } from '../../models/demo/demo-cache.js';

let tok: ClipTokenizer;
beforeAll(async () => {
  tok = await loadClipTokenizer(path.join(await testDemoModelSet(), 'tokenizer'));
});

function mapping(a: string, b: string, replace = true): { map: TokenMapping; eos: [number, number] } {
  const s = tokenisePrompt(tok, a);
  const e = tokenisePrompt(tok, b);
  return { map: tokenMapping(diffTokenised(s, e), s.eos, e.eos, 77, { replace }), eos: [s.eos, e.eos] };
}

/** Per edited position, the single source position it takes (weight 1), '-' for none, '*' for a spread. */
function simple(m: TokenMapping, upTo: number): (number | string)[] {
  return m.sources.slice(0, upTo).map((s) => (s === null ? '-' : s.length === 1 && s[0]!.weight === 1 ? s[0]!.position : '*'));
}

describe('tokenMapping', () => {
  it('a same-length replacement maps every position onto itself (prompt-to-prompt replace)', () => {
    const { map } = mapping('a red cube on a gray background', 'a green cube on a gray background');
    expect(map.identity).toBe(true);
    expect(mappedPositions(map).every((v) => v === 1)).toBe(true);
  });

  it('refine: replaced words keep their own attention when replace is off', () => {
    const { map } = mapping('a red cube', 'a green cube', false);
    expect(simple(map, 6)).toEqual([0, 1, '-', 3, 4, 5]);
  });

  it('a removal drops the removed tokens and shifts EOS and padding', () => {
    // BOS a red cube and a blue ball EOS  ->  BOS a red cube EOS
    const { map, eos } = mapping('a red cube and a blue ball', 'a red cube');
    expect(eos).toEqual([8, 4]);
    expect(simple(map, 8)).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
    // Edited padding past source position 76 has no source: it keeps its own attention.
    expect(map.sources[76]).toBeNull();
    expect(map.sources[72]).toEqual([{ position: 76, weight: 1 }]);
  });

  it('insertions at the start, middle and end keep their own attention', () => {
    expect(simple(mapping('a cat', 'a photo of a cat').map, 7)).toEqual([0, '-', '-', '-', 1, 2, 3]);
    expect(simple(mapping('a cat', 'a fluffy cat').map, 5)).toEqual([0, 1, '-', 2, 3]);
    expect(simple(mapping('a cat', 'a cat in the snow').map, 7)).toEqual([0, 1, 2, '-', '-', '-', 3]);
  });

  it('with repeated words the kept occurrence takes its own attention', () => {
    // BOS a blue cube and a blue cube EOS -> BOS a blue cube EOS: the first object is kept.
    expect(simple(mapping('a blue cube and a blue cube', 'a blue cube').map, 5)).toEqual([0, 1, 2, 3, 8]);
    // Removing the first object: "a blue cube" maps onto the second occurrence.
    expect(simple(mapping('a red cube and a blue cube', 'a blue cube').map, 5)).toEqual([0, 5, 6, 7, 8]);
  });

  it('prompt syntax: positions follow the plain text, a reweight scales the column and keeps the source emphasis', () => {
    const { map } = mapping('a red fox in a forest', 'a (red:1.5) fox in a forest');
    expect(map.sources[2]).toEqual([{ position: 2, weight: 1.5 }]);
    expect(map.embeddingWeights[2]).toBe(1);
    expect(map.sources[3]).toEqual([{ position: 3, weight: 1 }]);
    // An inserted emphasised word keeps its written weight (it has no source column to scale).
    const ins = mapping('a fox', 'a (snowy:1.3) fox').map;
    expect(ins.sources[2]).toBeNull();
    expect(ins.embeddingWeights[2]).toBeCloseTo(1.3, 6);
  });

  it('a word replaced by one of another token count spreads its attention, keeping its total', () => {
    const s = tokenisePrompt(tok, 'a cat on a hill');
    const e = tokenisePrompt(tok, 'a zebracorn on a hill');
    const z = e.words.find((w) => w.key === 'zebracorn')!;
    expect(z.positions!.length).toBeGreaterThan(1);
    const map = tokenMapping(diffTokenised(s, e), s.eos, e.eos, 77);
    for (const p of z.positions!) expect(map.sources[p]).toEqual([{ position: 2, weight: 1 / z.positions!.length }]);
    const after = z.positions![z.positions!.length - 1]! + 1;
    expect(map.sources[after]).toEqual([{ position: 3, weight: 1 }]);
  });
});

describe('mapAttention', () => {
  it('gathers, scales and spreads source columns per the mapping; unmapped columns stay 0', () => {
    const T = 4;
    const m: TokenMapping = {
      positions: T,
      sources: [
        [{ position: 0, weight: 1 }],
        [{ position: 2, weight: 2 }],
        null,
        [
          { position: 1, weight: 0.5 },
          { position: 3, weight: 0.5 },
        ],
      ],
      embeddingWeights: new Float32Array(T).fill(1),
      identity: false,
    };
    const src = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    const out = mapAttention(src, m);
    const want = [0.1, 2 * 0.3, 0, 0.5 * 0.2 + 0.5 * 0.4, 0.5, 2 * 0.7, 0, 0.5 * 0.6 + 0.5 * 0.8];
    want.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
    // A plain gather copies the value exactly.
    expect(out[4]).toBe(src[4]);
  });
});
