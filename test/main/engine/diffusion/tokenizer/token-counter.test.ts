import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../../../src/main/engine/diffusion/tokenizer/clip-tokenizer.js';
import { countTokens } from '../../../../../src/main/engine/diffusion/tokenizer/token-counter.js';
import { trainDemoBpe } from '../../../../../src/main/engine/diffusion/tokenizer/train.js';

/** A CLIP-format tokenizer over a few words (each one token), with a context of 8 positions: 6 prompt tokens. */
function tokenizer(words: string[], contextLength = 8): ClipTokenizer {
  const bpe = trainDemoBpe(words, { vocabSize: 2000 });
  return new ClipTokenizer(bpe.vocab, bpe.merges, { contextLength });
}

describe('countTokens (the live token counter)', () => {
  const tok = tokenizer(['red', 'fox', 'in', 'snow']);

  it('lists every token with the span of text it came from', () => {
    const r = countTokens(tok, 'red fox');
    expect(r).toEqual({
      tokens: [
        { id: expect.any(Number), text: 'red', start: 0, end: 3 },
        { id: expect.any(Number), text: 'fox', start: 4, end: 7 },
      ],
      count: 2,
      limit: 6,
      truncated: false,
      droppedFrom: null,
      droppedWords: [],
    });
  });

  it('says where the text past the limit starts and which words are dropped', () => {
    const text = 'red fox in snow red fox in snow';
    const r = countTokens(tok, text);
    expect(r.count).toBe(8);
    expect(r.truncated).toBe(true);
    expect(text.slice(r.droppedFrom!)).toBe('in snow');
    expect(r.droppedWords).toEqual(['in', 'snow']);
  });

  it('leaves spans out when the text is not NFC (they would be offsets in another string), and caps the lists', () => {
    const decomposed = 're\u0301d fox';
    expect(countTokens(tok, decomposed).tokens.every((t) => t.start === undefined && t.end === undefined)).toBe(true);
    const capped = countTokens(tok, 'red fox in snow', { maxItems: 2, maxTextChars: 2 });
    expect(capped.count).toBe(4);
    expect(capped.tokens.map((t) => t.text)).toEqual(['re', 'fo']);
  });
});
