/**
 * The decoder-side tokenizer of an E2T pair (T5's SentencePiece tokenizer for the published
 * pair), read from the folder's `tokenizer.json` + `tokenizer_config.json` (Hugging Face format)
 * through transformers.js' tokenizer classes, which implement the Unigram model, the
 * Precompiled normaliser and the Metaspace decoding T5 uses. No file is fetched: both files are
 * read here and handed to the constructor.
 *
 * `writeWordTokenizer` writes the same format for a closed vocabulary (one whole-word piece per
 * word), which is what the shapes world's pair and the tests' tiny pairs use.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.js';

export interface E2tTokenizer {
  /** Ids of `text` followed by EOS (as the decoder was trained to emit them). */
  encode(text: string): number[];
  /** Text of `ids`, special tokens (start, EOS, padding) skipped. */
  decode(ids: readonly number[]): string;
  /** 1 + the largest id the tokenizer can produce (model pieces and added tokens). */
  readonly idSpace: number;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
}

interface HfTokenizer {
  encode(text: string, o?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], o?: { skip_special_tokens?: boolean }): string;
  get_vocab(): Map<string, number> | Record<string, number>;
  eos_token_id?: number;
  pad_token_id?: number;
}

async function readJson(file: string, dir: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new EngineError(
      'MODEL_FOLDER',
      `${dir} has no ${path.basename(file)}; the E2T folder needs the decoder's tokenizer files (tokenizer.json, tokenizer_config.json)`,
    );
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new EngineError('MODEL_FOLDER', `${file} is not JSON (${(e as Error).message})`);
  }
}

/** Load the tokenizer of an E2T folder. */
export async function loadE2tTokenizer(dir: string): Promise<E2tTokenizer> {
  const json = await readJson(path.join(dir, 'tokenizer.json'), dir);
  const config = await readJson(path.join(dir, 'tokenizer_config.json'), dir);
  const t = await import('@huggingface/transformers');
  let tok: HfTokenizer;
  try {
    tok = new t.PreTrainedTokenizer(json, config) as unknown as HfTokenizer;
  } catch (e) {
    throw new EngineError(
      'MODEL_FOLDER',
      `the tokenizer in ${dir} cannot be read (${(e as Error).message.split('\n')[0]}); re-export the E2T folder`,
    );
  }
  const vocab = tok.get_vocab();
  const ids = vocab instanceof Map ? [...vocab.values()] : Object.values(vocab);
  let max = -1;
  for (const id of ids) if (id > max) max = id;
  return {
    encode: (text) => tok.encode(text),
    decode: (ids) => tok.decode([...ids], { skip_special_tokens: true }).trim(),
    idSpace: max + 1,
    eosTokenId: tok.eos_token_id,
    padTokenId: tok.pad_token_id,
  };
}

/** Ids of the special tokens `writeWordTokenizer` writes (T5's). */
export const WORD_TOKENIZER_SPECIALS = { pad: 0, eos: 1, unk: 2 } as const;

/**
 * Write a T5-format tokenizer over a closed vocabulary: `<pad>` 0, `</s>` 1, `<unk>` 2, then
 * one piece `▁word` per word (ids 3..). Whitespace-split words outside the list become `<unk>`.
 * @returns the number of ids (3 + words)
 */
export async function writeWordTokenizer(dir: string, words: readonly string[]): Promise<number> {
  const unique = [...new Set(words)];
  if (unique.some((w) => !/^\S+$/.test(w)))
    throw new EngineError('INVALID_ARGUMENT', 'tokenizer words must be non-empty and contain no whitespace');
  const specials = ['<pad>', '</s>', '<unk>'];
  const meta = { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true, prepend_scheme: 'always', split: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, meta] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [WORD_TOKENIZER_SPECIALS.eos], tokens: ['</s>'] } },
    },
    decoder: meta,
    model: {
      type: 'Unigram',
      unk_id: WORD_TOKENIZER_SPECIALS.unk,
      vocab: [...specials.map((s) => [s, 0]), ...unique.map((w) => [`\u2581${w}`, -1])],
    },
  };
  const config = {
    tokenizer_class: 'T5Tokenizer',
    eos_token: '</s>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    model_max_length: 512,
    extra_ids: 0,
  };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(json) + '\n');
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  return specials.length + unique.length;
}
