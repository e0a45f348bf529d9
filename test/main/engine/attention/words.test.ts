import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultWords, lookupWord, promptWords } from '../../../../src/main/engine/attention/words.js';
import { parseWeightedText } from '../../../../src/main/engine/diffusion/prompt-weights.js';
import { loadClipTokenizer, type ClipTokenizer } from '../../../../src/main/engine/diffusion/tokenizer/index.js';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { testDemoModelSet } from '../models/demo/demo-cache.js';

let tok: ClipTokenizer;
beforeAll(async () => {
  tok = await loadClipTokenizer(path.join(await testDemoModelSet(), 'tokenizer'));
});

/** The positions `word` has in what the text encoder reads for `prompt` (independent of words.ts). */
function expectedPositions(prompt: string, word: string): number[] {
  const plain = parseWeightedText(prompt).plain;
  const enc = tok.encode(plain);
  const out: number[] = [];
  for (let p = 1; p < enc.length - 1; p++) {
    const s = enc.spans[p]!;
    if (plain.normalize('NFC').slice(s.start, s.end).toLowerCase() === word) out.push(p);
  }
  return out;
}

function bad(f: () => unknown): EngineError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('INVALID_ARGUMENT');
    return e as EngineError;
  }
  throw new Error('did not throw');
}

describe('word -> token lookup', () => {
  it('maps plain words to their single positions, BOS at 0', () => {
    const pw = promptWords(tok, 'a red fox in the snow');
    expect(pw.pieces.map((p) => [p.text, p.positions])).toEqual([
      ['a', [1]],
      ['red', [2]],
      ['fox', [3]],
      ['in', [4]],
      ['the', [5]],
      ['snow', [6]],
    ]);
    expect(lookupWord(pw, 'fox')).toEqual({ word: 'fox', positions: [3], tokens: ['fox</w>'], occurrences: 1 });
  });

  it('gives a word split into BPE pieces all its positions', () => {
    const pw = promptWords(tok, 'a zebracorn on a hill');
    const z = lookupWord(pw, 'zebracorn');
    expect(z.tokens).toEqual(['z', 'e', 'bra', 'corn</w>']);
    expect(z.positions).toEqual([2, 3, 4, 5]);
    expect(lookupWord(pw, 'hill').positions).toEqual([8]);
  });

  it('is not thrown off by prompt syntax: weights, de-emphasis, BREAK, comments, escapes', () => {
    const prompt = 'a (red:1.3) fox, [[dog]] BREAK on a hill\n// a comment about zebras\n(sunny) \\(day\\)';
    const pw = promptWords(tok, prompt);
    for (const w of ['red', 'fox', 'dog', 'hill', 'sunny', 'day']) {
      expect(lookupWord(pw, w).positions, w).toEqual(expectedPositions(prompt, w));
      expect(lookupWord(pw, w).positions.length, w).toBe(1);
    }
    // Each word's span in the prompt as written is the word itself.
    for (const p of pw.pieces.filter((x) => x.isWord)) expect(prompt.slice(p.source!.start, p.source!.end).toLowerCase()).toBe(p.key);
    expect(pw.plain).not.toContain('zebras');
    expect(bad(() => lookupWord(pw, 'zebras')).message).toMatch(
      /"zebras" is not a word of the prompt; its words are: a, red, fox, dog, on, hill, sunny, day/,
    );
    // The positions are those of what generation encodes: the weighted prompt's plain text.
    expect(pw.plain).toBe(parseWeightedText(prompt).plain);
  });

  it('matches case-insensitively, ignores syntax in the query, and finds phrases and every occurrence', () => {
    const pw = promptWords(tok, 'a Cat and a red cat with a T-shirt');
    expect(lookupWord(pw, 'CAT')).toMatchObject({ positions: [2, 6], occurrences: 2 });
    expect(lookupWord(pw, '(cat:1.2)').positions).toEqual([2, 6]);
    expect(lookupWord(pw, 'red cat')).toMatchObject({ positions: [5, 6], occurrences: 1 });
    expect(lookupWord(pw, 't-shirt')).toMatchObject({ positions: [9, 10, 11], tokens: ['t</w>', '-</w>', 'shirt</w>'] });
    expect(bad(() => lookupWord(pw, 'cats')).message).toMatch(/not a word of the prompt/);
    expect(bad(() => lookupWord(pw, ' , ')).message).toMatch(/is not a word/);
  });

  it('default words: distinct, in order, without stop words', () => {
    expect(defaultWords(promptWords(tok, 'a red fox and a red hen in the snow, at dusk'))).toEqual(['red', 'fox', 'hen', 'snow', 'dusk']);
    expect(defaultWords(promptWords(tok, 'the and of'))).toEqual(['the', 'and', 'of']);
  });

  it('says when a word fell past the token limit', () => {
    const long = `${Array.from({ length: 80 }, () => 'red').join(' ')} zebra`;
    const pw = promptWords(tok, long);
    expect(pw.truncated).toContain('zebra');
    expect(bad(() => lookupWord(pw, 'zebra')).message).toMatch(/past the prompt's 75-token limit/);
  });

  it('rejects empty prompts and prompts without words', () => {
    expect(bad(() => promptWords(tok, '')).message).toMatch(/the prompt is empty/);
    expect(bad(() => promptWords(tok, '   ')).message).toMatch(/the prompt is empty/);
    expect(bad(() => promptWords(tok, '// only a comment')).message).toMatch(/has no words/);
    expect(bad(() => promptWords(tok, '(,,:1.2)')).message).toMatch(/has no words/);
  });
});
