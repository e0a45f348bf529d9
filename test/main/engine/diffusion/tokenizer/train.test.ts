import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../src/main/engine/errors.js';
import { BYTE_ALPHABET } from '../../../../../src/main/engine/diffusion/tokenizer/byte-level.js';
import { ClipTokenizer } from '../../../../../src/main/engine/diffusion/tokenizer/clip-tokenizer.js';
import { trainDemoBpe } from '../../../../../src/main/engine/diffusion/tokenizer/train.js';
import {
  buildWordList,
  DICTIONARY_PATH,
  defaultWordListPath,
  readWordList,
} from '../../../../../src/main/engine/diffusion/tokenizer/word-list.js';

const WORDS = readWordList(defaultWordListPath());

describe('models/demo/words.txt', () => {
  it('holds 1500-3000 unique lowercase words, sorted', () => {
    expect(WORDS.length).toBeGreaterThanOrEqual(1500);
    expect(WORDS.length).toBeLessThanOrEqual(3000);
    expect(new Set(WORDS).size).toBe(WORDS.length);
    expect(WORDS.every((w) => /^[a-z]+$/.test(w))).toBe(true);
    expect([...WORDS].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(WORDS);
    for (const w of ['cat', 'dog', 'red', 'blue', 'forest', 'castle', 'watercolor', 'portrait', 'a', 'of', 'the'])
      expect(WORDS).toContain(w);
    expect(readFileSync(defaultWordListPath()).byteLength).toBeLessThan(40_000);
  });

  it.skipIf(!existsSync(DICTIONARY_PATH))(
    `is reproducible from the category lists and ${DICTIONARY_PATH} (apt-get install wamerican)`,
    () => {
      expect(buildWordList(readFileSync(DICTIONARY_PATH, 'utf8').split('\n'))).toEqual(WORDS);
    },
  );
});

describe('trainDemoBpe', () => {
  const full = trainDemoBpe(WORDS, { vocabSize: 8192 });
  const tok = new ClipTokenizer(full.vocab, full.merges);

  it('uses the CLIP vocabulary layout', () => {
    const ids = Object.entries(full.vocab).sort((a, b) => a[1] - b[1]);
    const n = ids.length;
    expect(ids.map(([, i]) => i)).toEqual(Array.from({ length: n }, (_, i) => i)); // dense
    expect(ids.slice(0, 256).map(([t]) => t)).toEqual(BYTE_ALPHABET);
    expect(ids.slice(256, 512).map(([t]) => t)).toEqual(BYTE_ALPHABET.map((c) => c + '</w>'));
    expect(full.vocab['!']).toBe(0);
    expect(full.vocab['<|startoftext|>']).toBe(n - 2);
    expect(full.vocab['<|endoftext|>']).toBe(n - 1);
    expect(n).toBe(512 + full.merges.length + 2);
    // every merge's result is the next vocabulary entry, in order
    full.merges.forEach((m, i) => expect(full.vocab[m.replace(' ', '')]).toBe(512 + i));
  });

  it('with room for it, every word of the list is exactly one token', () => {
    expect(Object.keys(full.vocab).length).toBeLessThan(8192); // training stopped: nothing left to merge
    const split = WORDS.filter((w) => tok.countTokens(w) !== 1);
    expect(split).toEqual([]);
    const e = tok.encode('a photo of a red fox in the snowy forest, watercolor painting');
    expect(e.length).toBe(2 + 13);
    expect(tok.decode(e.ids)).toBe('a photo of a red fox in the snowy forest , watercolor painting');
  });

  it('respects a smaller budget exactly and still encodes everything', () => {
    const small = trainDemoBpe(WORDS, { vocabSize: 1000 });
    expect(Object.keys(small.vocab)).toHaveLength(1000);
    const t = new ClipTokenizer(small.vocab, small.merges);
    expect(t.decode(t.encode('a photo of a zebra').ids)).toBe('a photo of a zebra');
    expect(t.countTokens('zebra')).toBeGreaterThan(1);
  });

  it('is deterministic; a seed gives another valid vocabulary', () => {
    const again = trainDemoBpe(WORDS, { vocabSize: 8192 });
    expect(again.merges).toEqual(full.merges);
    expect(JSON.stringify(again.vocab)).toBe(JSON.stringify(full.vocab));
    const seeded = trainDemoBpe(WORDS.slice(0, 400), { vocabSize: 8192, seed: 7 });
    const plain = trainDemoBpe(WORDS.slice(0, 400), { vocabSize: 8192 });
    expect(seeded.merges).not.toEqual(plain.merges);
    const st = new ClipTokenizer(seeded.vocab, seeded.merges);
    expect(WORDS.slice(0, 400).every((w) => st.countTokens(w) === 1)).toBe(true);
  });

  it('rejects impossible sizes', () => {
    expect(() => trainDemoBpe(WORDS, { vocabSize: 100 })).toThrow(EngineError);
    expect(() => trainDemoBpe(WORDS, { vocabSize: 513.5 })).toThrow(/vocabSize/);
  });
});
