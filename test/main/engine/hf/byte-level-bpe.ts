/**
 * Byte-level BPE (GPT-2 / BART format) for test fixtures: learns merges from a word list so that
 * every word is one token both at the start of a text (`cat`) and after a space (`Ġcat`), and
 * writes the tokenizer files a hub repo carries (`tokenizer.json`, `tokenizer_config.json`,
 * `vocab.json`, `merges.txt`, `special_tokens_map.json`).
 *
 * Layouts: `gpt2`, as GPT-2's vocabulary: the 256 byte-level characters (printable Latin-1
 * first), one token per merge in merge order, `<|endoftext|>` last (BOS, EOS and UNK at once).
 * `bart`, as BART's (Florence-2's language model): `<s> <pad> </s> <unk>` first, then the same,
 * then `<mask>`; its post-processor wraps encodings in `<s> ... </s>`.
 * Merges are learned by classic BPE on the distinct pre-tokens (most frequent adjacent pair
 * first, ties broken by text), so applying them in rank order re-creates each training word as a
 * single token; the tests check that through transformers.js.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BYTE_ALPHABET, fromByteLevel, toByteLevel } from '../../../../src/main/engine/diffusion/tokenizer/byte-level.js';
import { learnMerges } from '../../../../src/main/engine/diffusion/tokenizer/learn-merges.js';

export const GPT2_EOS = '<|endoftext|>';
/** The byte-level character for a space (U+0120), GPT-2's word-start marker. */
export const SPACE_MARK = toByteLevel(' ');

export type BpeLayout = 'gpt2' | 'bart';

const SPECIALS: Record<BpeLayout, { first: string[]; last: string[] }> = {
  gpt2: { first: [], last: [GPT2_EOS] },
  bart: { first: ['<s>', '<pad>', '</s>', '<unk>'], last: ['<mask>'] },
};

export interface ByteLevelBpe {
  layout: BpeLayout;
  /** token (byte-level characters, or a special token) -> id. */
  vocab: Map<string, number>;
  /** Merges in rank order as [left, right]. */
  merges: [string, string][];
  /** Special tokens -> id. */
  specials: Map<string, number>;
  /** Id of the end-of-text token (`<|endoftext|>` / `</s>`). */
  eosId: number;
  /** Id of the beginning-of-text token (`<|endoftext|>` / `<s>`). */
  bosId: number;
  /** Vocabulary size including the special tokens. */
  size: number;
}

/**
 * Learns merges until every word (with and without a leading space) is one token.
 * @param words lowercase letter-only words (anything else is rejected: the GPT-2 pre-tokeniser would split it)
 */
export function trainByteLevelBpe(words: readonly string[], layout: BpeLayout = 'gpt2'): ByteLevelBpe {
  const pieces: string[][] = [];
  const seen = new Set<string>();
  for (const w of words) {
    if (!/^\p{L}+$/u.test(w)) throw new Error(`trainByteLevelBpe: '${w}' is not a single letter-only word`);
    for (const form of [w, ` ${w}`]) {
      const bl = toByteLevel(form);
      if (seen.has(bl)) continue;
      seen.add(bl);
      pieces.push(Array.from(bl));
    }
  }

  const vocab = new Map<string, number>();
  for (const t of SPECIALS[layout].first) vocab.set(t, vocab.size);
  for (const c of BYTE_ALPHABET) vocab.set(c, vocab.size);
  const merges = learnMerges(pieces);
  for (const [a, b] of merges) if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  for (const t of SPECIALS[layout].last) vocab.set(t, vocab.size);
  const specials = new Map([...SPECIALS[layout].first, ...SPECIALS[layout].last].map((t) => [t, vocab.get(t)!] as const));
  const [bos, eos] = layout === 'gpt2' ? [GPT2_EOS, GPT2_EOS] : ['<s>', '</s>'];
  return { layout, vocab, merges, specials, eosId: specials.get(eos)!, bosId: specials.get(bos)!, size: vocab.size };
}

/**
 * Token ids of a text made only of vocabulary words separated by single spaces, plus
 * punctuation characters as separate pieces (`"sofa, oil"` -> sofa , Ġoil), as GPT-2's
 * pre-tokeniser splits it. Throws on a word that is not one token.
 */
export function wordIds(bpe: ByteLevelBpe, text: string): number[] {
  const ids: number[] = [];
  for (const m of text.matchAll(/ ?\p{L}+| ?[^\s\p{L}\p{N}]+/gu)) {
    const tok = toByteLevel(m[0]);
    const id = bpe.vocab.get(tok);
    if (id === undefined) throw new Error(`wordIds: '${m[0]}' is not a single token`);
    ids.push(id);
  }
  return ids;
}

/** Inverse vocabulary: id -> decoded text of the token (spaces restored). */
export function idToText(bpe: ByteLevelBpe): string[] {
  const out = new Array<string>(bpe.size);
  for (const [tok, id] of bpe.vocab) out[id] = bpe.specials.has(tok) ? tok : fromByteLevel(tok);
  return out;
}

export interface WriteTokenizerOptions {
  /** model_max_length in tokenizer_config.json (GPT-2 and BART: 1024). */
  modelMaxLength?: number;
}

/**
 * Writes the tokenizer files into `dir` (the repo root) as the Xenova GPT-2 repos (layout
 * `gpt2`) or BART-tokenizer repos such as Florence-2's (layout `bart`) have them.
 */
export async function writeByteLevelTokenizer(dir: string, bpe: ByteLevelBpe, opts: WriteTokenizerOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const vocabObj: Record<string, number> = {};
  for (const [tok, id] of bpe.vocab) vocabObj[tok] = id;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const bart = bpe.layout === 'bart';
  const id = (t: string): number => bpe.specials.get(t)!;
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...bpe.specials].map(([content, tokenId]) => ({
      id: tokenId,
      content,
      single_word: false,
      lstrip: content === '<mask>',
      rstrip: false,
      normalized: !bart,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: bart
      ? { type: 'RobertaProcessing', sep: ['</s>', id('</s>')], cls: ['<s>', id('<s>')], trim_offsets: true, add_prefix_space: false }
      : { ...byteLevel, add_prefix_space: true, trim_offsets: false },
    decoder: { ...byteLevel, add_prefix_space: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: bart ? '<unk>' : null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: vocabObj,
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const special = bart
    ? {
        bos_token: '<s>',
        eos_token: '</s>',
        unk_token: '<unk>',
        sep_token: '</s>',
        pad_token: '<pad>',
        cls_token: '<s>',
        mask_token: '<mask>',
      }
    : { bos_token: GPT2_EOS, eos_token: GPT2_EOS, unk_token: GPT2_EOS };
  const config = {
    add_prefix_space: false,
    clean_up_tokenization_spaces: true,
    errors: 'replace',
    model_max_length: opts.modelMaxLength ?? 1024,
    tokenizer_class: bart ? 'BartTokenizer' : 'GPT2Tokenizer',
    ...special,
  };
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  await writeFile(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2));
  await writeFile(path.join(dir, 'vocab.json'), JSON.stringify(vocabObj));
  await writeFile(path.join(dir, 'merges.txt'), ['#version: 0.2', ...bpe.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
}
