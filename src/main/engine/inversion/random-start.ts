/**
 * The start text of an inversion that has neither a captioner nor a text from the user: random
 * whole words of the text encoder's vocabulary. A word-final BPE token such as `ing</w>` is a
 * "whole word" to the tokenizer but not to a reader, so the words are drawn from those that are
 * also in the project's prompt word list (models/demo/words.txt: common, concrete English words)
 * when the vocabulary has enough of them, and from all alphabetic whole-word tokens otherwise.
 */
import { existsSync } from 'node:fs';
import { philox4x32 } from '../diffusion/rng.js';
import { defaultWordListPath, readWordList } from '../diffusion/tokenizer/word-list.js';
import { wordTokens } from '../e2t/text-encoder-oracle.js';

type Vocabulary = Parameters<typeof wordTokens>[0];

/** Fewer listed words than this in the vocabulary and the list is not used (a foreign tokenizer). */
export const MIN_LISTED_WORDS = 200;

let listed: Set<string> | undefined;

function promptWords(listPath: string | undefined): Set<string> {
  if (listPath !== undefined) return new Set(existsSync(listPath) ? readWordList(listPath) : []);
  const file = defaultWordListPath();
  listed ??= new Set(existsSync(file) ? readWordList(file) : []);
  return listed;
}

/**
 * `count` words chosen by `seed` (the same seed gives the same words), joined by spaces.
 * @param listPath word list to prefer (default: models/demo/words.txt)
 */
export function randomStartText(tokenizer: Vocabulary, count: number, seed: number, listPath?: string): string {
  const list = promptWords(listPath);
  let words = wordTokens(tokenizer, (w) => list.has(w));
  if (words.length < MIN_LISTED_WORDS) words = wordTokens(tokenizer);
  if (words.length === 0) return '';
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const [r] = philox4x32([i, 0, 0, 0], [seed >>> 0, 0x5eed]);
    out.push(words[r! % words.length]!.word);
  }
  return out.join(' ');
}
