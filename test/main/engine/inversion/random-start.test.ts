import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIN_LISTED_WORDS, randomStartText } from '../../../../src/main/engine/inversion/random-start.js';
import { defaultWordListPath, readWordList } from '../../../../src/main/engine/diffusion/tokenizer/word-list.js';

const dir = mkdtempSync(join(tmpdir(), 'random-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A CLIP-like vocabulary: whole-word tokens end in </w>, pieces do not. */
function vocab(tokens: string[]): { vocabSize: number; idToToken(id: number): string | undefined } {
  return { vocabSize: tokens.length, idToToken: (id) => tokens[id] };
}

const letters = (i: number): string => String.fromCharCode(97 + (i % 26)) + String.fromCharCode(97 + (Math.floor(i / 26) % 26)) + 'x';
const listed = Array.from({ length: MIN_LISTED_WORDS + 50 }, (_v, i) => `word${letters(i)}`);
const listFile = join(dir, 'words.txt');
writeFileSync(listFile, `# test list\n${listed.join('\n')}\n`);
const fragments = ['ing</w>', 'tion</w>', 'zx</w>', 'ed</w>'];

describe('randomStartText', () => {
  it('draws whole words from the prompt word list, never word-final BPE pieces', () => {
    const v = vocab([...fragments, ...listed.map((w) => `${w}</w>`), 'word', 'pie', 'ce']);
    const text = randomStartText(v, 40, 7, listFile);
    const words = text.split(' ');
    expect(words).toHaveLength(40);
    for (const w of words) expect(listed).toContain(w);
  });

  it('is the same for the same seed and differs between seeds', () => {
    const v = vocab(listed.map((w) => `${w}</w>`));
    expect(randomStartText(v, 8, 3, listFile)).toBe(randomStartText(v, 8, 3, listFile));
    expect(randomStartText(v, 8, 3, listFile)).not.toBe(randomStartText(v, 8, 4, listFile));
  });

  it('falls back to all alphabetic whole words when the vocabulary has too few listed ones', () => {
    const v = vocab([...fragments, ...listed.slice(0, 10).map((w) => `${w}</w>`)]);
    const words = new Set(randomStartText(v, 200, 1, listFile).split(' '));
    expect(words.has('ing') || words.has('tion') || words.has('zx') || words.has('ed')).toBe(true);
  });

  it('is empty when the vocabulary has no whole words', () => {
    expect(randomStartText(vocab(['pie', 'ce']), 5, 0, listFile)).toBe('');
  });

  it('uses models/demo/words.txt by default', () => {
    const list = readWordList(defaultWordListPath());
    const v = vocab([...fragments, ...list.map((w) => `${w}</w>`)]);
    for (const w of randomStartText(v, 30, 11).split(' ')) expect(list).toContain(w);
  });
});
