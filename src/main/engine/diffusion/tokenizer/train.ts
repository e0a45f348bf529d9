/**
 * Training a small CLIP-format BPE vocabulary for the demo model set.
 *
 * Layout matches OpenAI CLIP's: ids 0..255 are the byte-level characters, 256..511 the same with
 * `</w>`, then one entry per learned merge (in merge order), then <|startoftext|> and
 * <|endoftext|> last. Merges are learned by classic BPE on the (deduplicated, equally weighted)
 * words: repeatedly merge the most frequent adjacent pair, ties broken by the pair's text
 * (code-unit order) so the result is a pure function of the word list. Training runs until every
 * word is a single token or the vocabulary is full; with room for that, each word of the list
 * encodes to exactly one token, which keeps embedding -> text decoding over the demo vocabulary
 * clean.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../../errors.js';
import { safeWriteFile } from '../../io/safe-write.js';
import { END_OF_WORD } from './bpe.js';
import { BYTE_ALPHABET, toByteLevel } from './byte-level.js';
import { learnMerges } from './learn-merges.js';
import { BOS_TOKEN, CONTEXT_LENGTH, EOS_TOKEN } from './clip-tokenizer.js';

export interface TrainBpeOptions {
  /** Total vocabulary size including the 512 byte symbols and the two special tokens (>= 514). */
  vocabSize: number;
  /**
   * Optional: permutes how equally frequent pairs are ordered (a different but equally valid
   * vocabulary). Omitted = plain text order. Either way the output is deterministic.
   */
  seed?: number;
}

export interface TrainedBpe {
  /** token -> id, CLIP layout (see file comment). */
  vocab: Record<string, number>;
  /** merges in rank order, "a b" as in merges.txt. */
  merges: string[];
}

const PIECE = /'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

/**
 * Learns CLIP-format BPE merges from `words` (lowercased, split like CLIP pre-tokenisation).
 * Returns at most `vocabSize` entries; fewer when every word is already one token.
 */
export function trainDemoBpe(words: readonly string[], opts: TrainBpeOptions): TrainedBpe {
  const { vocabSize, seed } = opts;
  const base = 2 * BYTE_ALPHABET.length + 2;
  if (!Number.isInteger(vocabSize) || vocabSize < base)
    throw new EngineError('INVALID_ARGUMENT', `vocabSize must be an integer >= ${base} (got ${vocabSize}).`);
  if (seed !== undefined && !Number.isSafeInteger(seed))
    throw new EngineError('INVALID_ARGUMENT', `seed must be an integer (got ${seed}).`);

  // Unique pre-tokens as symbol sequences, `</w>` on the last symbol.
  const seen = new Set<string>();
  const pieces: string[][] = [];
  for (const w of words) {
    for (const m of w.normalize('NFC').toLowerCase().matchAll(PIECE)) {
      const bl = toByteLevel(m[0]);
      if (seen.has(bl)) continue;
      seen.add(bl);
      const chars = Array.from(bl);
      pieces.push(chars.slice(0, -1).concat(chars[chars.length - 1]! + END_OF_WORD));
    }
  }

  const vocabOrder: string[] = [...BYTE_ALPHABET, ...BYTE_ALPHABET.map((c) => c + END_OF_WORD)];
  const known = new Set(vocabOrder);
  const merges: string[] = [];
  for (const [first, second] of learnMerges(pieces, { maxNewSymbols: vocabSize - base, ...(seed !== undefined ? { seed } : {}) })) {
    merges.push(`${first} ${second}`);
    const joined = first + second;
    if (!known.has(joined)) {
      known.add(joined);
      vocabOrder.push(joined);
    }
  }

  const vocab = Object.create(null) as Record<string, number>;
  vocabOrder.forEach((tok, id) => (vocab[tok] = id));
  vocab[BOS_TOKEN] = vocabOrder.length;
  vocab[EOS_TOKEN] = vocabOrder.length + 1;
  return { vocab, merges };
}

export interface WriteTokenizerOptions {
  /** Pad token written to the configs (default <|endoftext|>, as SD 1.x). */
  padToken?: string;
}

/**
 * Writes `vocab.json`, `merges.txt` (with the `#version: 0.2` header), `tokenizer_config.json`
 * and `special_tokens_map.json` in the layout of the hub SD repos' `tokenizer/` folder.
 */
export async function writeTokenizerFiles(dir: string, bpe: TrainedBpe, opts: WriteTokenizerOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pad = opts.padToken ?? EOS_TOKEN;
  const special = { bos_token: BOS_TOKEN, eos_token: EOS_TOKEN, unk_token: EOS_TOKEN, pad_token: pad };
  const write = (file: string, text: string) => safeWriteFile(file, text, { what: 'the tokenizer file' });
  await write(path.join(dir, 'vocab.json'), JSON.stringify(bpe.vocab));
  await write(path.join(dir, 'merges.txt'), ['#version: 0.2', ...bpe.merges].join('\n') + '\n');
  await write(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify(
      { tokenizer_class: 'CLIPTokenizer', model_max_length: CONTEXT_LENGTH, do_lower_case: true, errors: 'replace', ...special },
      null,
      2,
    ),
  );
  await write(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2));
}
