/**
 * The fixtures' shared GPT-2 tokenizer: byte-level BPE trained on the demo word list
 * (models/demo/words.txt) plus any extra corpus words, so every word is one token. Trained once
 * per process (about 0.3 s) and reused by every fixture.
 */
import { defaultWordListPath, readWordList } from '../../../../src/main/engine/diffusion/tokenizer/word-list.js';
import { trainByteLevelBpe, type BpeLayout, type ByteLevelBpe } from './byte-level-bpe.js';

const cached = new Map<BpeLayout, { key: string; bpe: ByteLevelBpe }>();

/** Words of `texts` (letters only, lowercase). */
export function corpusWords(texts: readonly string[]): string[] {
  return texts.flatMap((t) => t.toLowerCase().match(/\p{L}+/gu) ?? []);
}

/** BPE over the demo words plus `extraWords` (deduplicated), in the given vocabulary layout. */
export function fixtureBpe(extraWords: readonly string[] = [], layout: BpeLayout = 'gpt2'): ByteLevelBpe {
  const words = [...new Set([...readWordList(defaultWordListPath()), ...extraWords])].sort();
  const key = words.join(' ');
  let hit = cached.get(layout);
  if (hit?.key !== key) cached.set(layout, (hit = { key, bpe: trainByteLevelBpe(words, layout) }));
  return hit.bpe;
}
