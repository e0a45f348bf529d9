/**
 * CLIP BPE tokenizer (what Stable Diffusion's text encoder reads), implemented directly because
 * the hub SD repos ship `vocab.json` + `merges.txt` without a `tokenizer.json`, and because the
 * studio needs to say exactly which words a 77-token prompt dropped.
 *
 * Pipeline, as Hugging Face's CLIP tokenizer (fast version) does it:
 *  1. normalise: Unicode NFC, runs of whitespace -> one space, lowercase (per character);
 *     (OpenAI's original also runs ftfy + HTML unescaping, which the HF fast tokenizer skips too)
 *  2. pre-tokenise with CLIP's pattern: special tokens | 's 't 're 've 'm 'll 'd | letters+ |
 *     one digit | runs of other non-space characters; whitespace is dropped;
 *  3. each piece -> UTF-8 bytes -> byte-level characters -> BPE with `</w>` on the last symbol;
 *  4. ids = [<|startoftext|>, ...at most 75 tokens..., <|endoftext|>, pad...] (77 in all).
 *     SD 1.x pads with <|endoftext|> (49407); SD 2.x tokenizers name "!" (id 0) as pad_token.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../../errors.js';
import { BpeMerger, END_OF_WORD, parseMerge } from './bpe.js';
import { fromByteLevel, toByteLevel } from './byte-level.js';

export const BOS_TOKEN = '<|startoftext|>';
export const EOS_TOKEN = '<|endoftext|>';
/** Positions the text encoder reads (CLIP's context length). */
export const CONTEXT_LENGTH = 77;

const PIECE_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

export interface ClipEncoding {
  /** `contextLength` ids: BOS, tokens, EOS, then padding. */
  ids: Int32Array;
  /** Vocabulary strings of ids[0 .. length-1] (BOS ... EOS), e.g. ['<|startoftext|>', 'cat</w>', ...]. */
  tokens: string[];
  /** Number of meaningful positions, including BOS and EOS. */
  length: number;
  /**
   * For positions 0 .. length-1, the [start, end) span in the NFC-normalised input of the
   * pre-token (word or symbol run) the token came from; null for BOS and EOS.
   */
  spans: ({ start: number; end: number } | null)[];
  /**
   * What did not fit, or null. `text` is the dropped tail of the prompt as the user typed it
   * (from the first word that lost any token), `words` its letter/digit pieces.
   */
  truncated: { text: string; words: string[] } | null;
}

export interface EncodeOptions {
  /** Cap on meaningful positions including BOS and EOS (<= contextLength; default contextLength). */
  maxLength?: number;
}

export interface DecodeOptions {
  /** Leave out BOS/EOS/pad and stop at the first EOS (default true). */
  skipSpecialTokens?: boolean;
}

export interface ClipTokenizerOptions {
  bosToken?: string;
  eosToken?: string;
  /** Token used for unknown pieces; CLIP uses <|endoftext|>. */
  unkToken?: string;
  /** Padding token; default <|endoftext|> (SD 1.x). */
  padToken?: string;
  contextLength?: number;
}

interface Piece {
  /** normalised text of the pre-token */
  text: string;
  /** source span in the NFC prompt */
  start: number;
  end: number;
}

/** NFC, whitespace collapse and per-character lowercase, keeping a map back to the source. */
function normalise(src: string): { norm: string; srcStart: number[]; srcEnd: number[] } {
  let norm = '';
  const srcStart: number[] = [];
  const srcEnd: number[] = [];
  let i = 0;
  while (i < src.length) {
    const cp = src.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    const next = i + ch.length;
    if (/\s/u.test(ch)) {
      let j = next;
      while (j < src.length) {
        const c2 = String.fromCodePoint(src.codePointAt(j)!);
        if (!/\s/u.test(c2)) break;
        j += c2.length;
      }
      norm += ' ';
      srcStart.push(i);
      srcEnd.push(j);
      i = j;
      continue;
    }
    const lower = ch.toLowerCase();
    for (let k = 0; k < lower.length; k++) {
      srcStart.push(i);
      srcEnd.push(next);
    }
    norm += lower;
    i = next;
  }
  return { norm, srcStart, srcEnd };
}

export class ClipTokenizer {
  readonly contextLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** Size of the id space (max id + 1): the text encoder's embedding rows. */
  readonly vocabSize: number;
  private readonly vocab = new Map<string, number>();
  private readonly inverse = new Map<number, string>();
  private readonly merger: BpeMerger;
  private readonly specialIds: Set<number>;

  /**
   * @param vocab token string -> id (CLIP layout: 256 byte chars, 256 `</w>` variants, merges, BOS, EOS)
   * @param merges in rank order, as "a b" strings or [a, b] pairs; merges whose result is not in
   *   the vocabulary are ignored (as the Rust tokenizers library refuses them and HF's slow
   *   tokenizer truncates the list to the vocabulary).
   */
  constructor(
    vocab: Record<string, number> | Map<string, number>,
    merges: readonly (string | readonly string[])[],
    options: ClipTokenizerOptions = {},
  ) {
    const entries = vocab instanceof Map ? vocab.entries() : Object.entries(vocab);
    for (const [tok, id] of entries) {
      if (!Number.isInteger(id) || id < 0)
        throw new EngineError('INVALID_MODEL', `vocabulary entry ${JSON.stringify(tok)} has invalid id ${id}.`);
      this.vocab.set(tok, id);
      if (!this.inverse.has(id)) this.inverse.set(id, tok);
    }
    let maxId = -1;
    for (const i of this.inverse.keys()) if (i > maxId) maxId = i;
    this.vocabSize = maxId + 1;
    const pairs: [string, string][] = [];
    merges.forEach((m, i) => {
      const pair = parseMerge(m);
      if (pair === null)
        throw new EngineError('INVALID_MODEL', `merge ${i + 1} (${JSON.stringify(m)}) is not two symbols separated by a space.`);
      if (this.vocab.has(pair[0] + pair[1])) pairs.push(pair);
    });
    this.merger = new BpeMerger(pairs);
    const need = (name: string, tok: string): number => {
      const id = this.vocab.get(tok);
      if (id === undefined)
        throw new EngineError('INVALID_MODEL', `the tokenizer's ${name} token ${JSON.stringify(tok)} is not in the vocabulary.`);
      return id;
    };
    this.bosId = need('bos', options.bosToken ?? BOS_TOKEN);
    this.eosId = need('eos', options.eosToken ?? EOS_TOKEN);
    this.unkId = need('unk', options.unkToken ?? EOS_TOKEN);
    this.padId = need('pad', options.padToken ?? options.eosToken ?? EOS_TOKEN);
    this.contextLength = options.contextLength ?? CONTEXT_LENGTH;
    if (!Number.isInteger(this.contextLength) || this.contextLength < 3)
      throw new EngineError('INVALID_ARGUMENT', `contextLength must be an integer >= 3 (got ${this.contextLength}).`);
    this.specialIds = new Set([this.bosId, this.eosId]);
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.inverse.get(id);
  }

  /** Readable text of one token: bytes decoded, `</w>` shown as a trailing space trimmed away. */
  decodeToken(id: number): string {
    const tok = this.inverse.get(id);
    if (tok === undefined) return '';
    if (this.specialIds.has(id)) return tok;
    return fromByteLevel(tok).replaceAll(END_OF_WORD, ' ').trim();
  }

  private pieces(text: string): { pieces: Piece[]; src: string } {
    const src = text.normalize('NFC');
    const { norm, srcStart, srcEnd } = normalise(src);
    const pieces: Piece[] = [];
    for (const m of norm.matchAll(PIECE_PATTERN)) {
      const a = m.index;
      const b = a + m[0].length;
      pieces.push({ text: m[0], start: srcStart[a]!, end: srcEnd[b - 1]! });
    }
    return { pieces, src };
  }

  private pieceIds(piece: string): number[] {
    if (piece === BOS_TOKEN) return [this.bosId];
    if (piece === EOS_TOKEN) return [this.eosId];
    return this.merger.split(toByteLevel(piece)).map((sym) => this.vocab.get(sym) ?? this.unkId);
  }

  /** Ids of `text` without BOS/EOS and without any length limit. */
  tokenize(text: string): number[] {
    const { pieces } = this.pieces(text);
    return pieces.flatMap((p) => this.pieceIds(p.text));
  }

  /**
   * Like `tokenize`, with each token's [start, end) span in `text` (NFC-normalised): the span
   * of the word or symbol run it belongs to, so callers can map tokens back to what was typed.
   */
  tokenizeWithSpans(text: string): { id: number; start: number; end: number }[] {
    const { pieces } = this.pieces(text);
    return pieces.flatMap((p) => this.pieceIds(p.text).map((id) => ({ id, start: p.start, end: p.end })));
  }

  /** Number of tokens `text` needs, without BOS/EOS (75 fit in SD's 77 positions). */
  countTokens(text: string): number {
    return this.tokenize(text).length;
  }

  /** Encodes a prompt into the text encoder's fixed-length input; see ClipEncoding. */
  encode(text: string, options: EncodeOptions = {}): ClipEncoding {
    const maxLength = options.maxLength ?? this.contextLength;
    if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > this.contextLength)
      throw new EngineError('INVALID_ARGUMENT', `maxLength must be an integer between 2 and ${this.contextLength} (got ${maxLength}).`);
    const room = maxLength - 2;
    const { pieces, src } = this.pieces(text);
    const content: number[] = [];
    const spans: ClipEncoding['spans'] = [null];
    let truncated: ClipEncoding['truncated'] = null;
    for (let p = 0; p < pieces.length; p++) {
      const ids = this.pieceIds(pieces[p]!.text);
      const span = { start: pieces[p]!.start, end: pieces[p]!.end };
      if (content.length + ids.length > room) {
        const kept = ids.slice(0, room - content.length);
        content.push(...kept);
        for (let k = 0; k < kept.length; k++) spans.push(span);
        const dropped = pieces.slice(p);
        truncated = {
          text: src.slice(dropped[0]!.start).trim(),
          words: dropped.filter((d) => /[\p{L}\p{N}]/u.test(d.text)).map((d) => src.slice(d.start, d.end)),
        };
        break;
      }
      content.push(...ids);
      for (let k = 0; k < ids.length; k++) spans.push(span);
    }
    spans.push(null);
    const ids = new Int32Array(this.contextLength).fill(this.padId);
    ids[0] = this.bosId;
    ids.set(content, 1);
    ids[content.length + 1] = this.eosId;
    const length = content.length + 2;
    const tokens = Array.from(ids.subarray(0, length), (id) => this.inverse.get(id) ?? '');
    return { ids, tokens, length, truncated, spans };
  }

  /**
   * Text of a token id sequence (an `encode` result's ids, or any list). With skipSpecialTokens
   * (default) BOS is skipped and decoding stops at the first EOS after content, so padding never
   * shows up (SD 2's pad token is a real character, '!').
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (skip) {
        if (id === this.bosId) continue;
        if (id === this.eosId) break;
      }
      const tok = this.inverse.get(id);
      if (tok === undefined) continue;
      text += this.specialIds.has(id) ? toByteLevel(tok) + toByteLevel(' ') : tok;
    }
    return fromByteLevel(text).replaceAll(END_OF_WORD, ' ').replace(/\s+/g, ' ').trim();
  }
}

// ---------------------------------------------------------------- loading from disk

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EngineError('INVALID_MODEL', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** A token field of tokenizer_config.json / special_tokens_map.json: "x" or { content: "x" }. */
function tokenField(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

function resolveDir(dir: string): string {
  const direct = ['tokenizer.json', 'vocab.json'].some((f) => existsSync(path.join(dir, f)));
  if (!direct && existsSync(path.join(dir, 'tokenizer'))) return path.join(dir, 'tokenizer');
  return dir;
}

/**
 * Loads a CLIP tokenizer from a folder in the Hugging Face layout: `tokenizer.json`, or
 * `vocab.json` + `merges.txt`; special and pad tokens and the context length come from
 * `tokenizer_config.json` / `special_tokens_map.json` when present. `dir` may also be a model
 * folder containing `tokenizer/`.
 */
export async function loadClipTokenizer(dir: string): Promise<ClipTokenizer> {
  const root = resolveDir(dir);
  const file = (f: string): string => path.join(root, f);
  const opts: ClipTokenizerOptions = {};

  const sources: unknown[] = [];
  if (existsSync(file('special_tokens_map.json'))) sources.push(await readJson(file('special_tokens_map.json')));
  if (existsSync(file('tokenizer_config.json'))) sources.push(await readJson(file('tokenizer_config.json')));
  for (const s of sources) {
    // later sources win: tokenizer_config.json over special_tokens_map.json
    if (s === null || typeof s !== 'object') continue;
    const o = s as Record<string, unknown>;
    opts.bosToken = tokenField(o.bos_token) ?? opts.bosToken;
    opts.eosToken = tokenField(o.eos_token) ?? opts.eosToken;
    opts.unkToken = tokenField(o.unk_token) ?? opts.unkToken;
    opts.padToken = tokenField(o.pad_token) ?? opts.padToken;
    const ml = o.model_max_length;
    if (typeof ml === 'number' && Number.isInteger(ml) && ml >= 3 && ml <= 4096) opts.contextLength = ml;
  }

  if (existsSync(file('tokenizer.json'))) {
    const tj = (await readJson(file('tokenizer.json'))) as Record<string, unknown>;
    const model = tj.model as Record<string, unknown> | undefined;
    if (!model || (model.type !== undefined && model.type !== 'BPE') || typeof model.vocab !== 'object')
      throw new EngineError('INVALID_MODEL', `${file('tokenizer.json')} does not hold a BPE model.`);
    if (model.end_of_word_suffix !== undefined && model.end_of_word_suffix !== END_OF_WORD)
      throw new EngineError(
        'INVALID_MODEL',
        `${file('tokenizer.json')} is not a CLIP tokenizer (end_of_word_suffix ${JSON.stringify(model.end_of_word_suffix)}).`,
      );
    const vocab = new Map(Object.entries(model.vocab as Record<string, number>));
    for (const t of (tj.added_tokens as { id: number; content: string }[] | undefined) ?? [])
      if (typeof t?.content === 'string' && Number.isInteger(t.id)) vocab.set(t.content, t.id);
    const padding = tj.padding as { pad_token?: unknown } | null | undefined;
    if (opts.padToken === undefined && typeof padding?.pad_token === 'string') opts.padToken = padding.pad_token;
    if (opts.unkToken === undefined && typeof model.unk_token === 'string') opts.unkToken = model.unk_token;
    if (vocab.size === 0) throw emptyVocabulary(file('tokenizer.json'));
    return namingFile(
      file('tokenizer.json'),
      () => new ClipTokenizer(vocab, (model.merges as (string | string[])[] | undefined) ?? [], opts),
    );
  }

  const missing = ['vocab.json', 'merges.txt'].filter((f) => !existsSync(file(f)));
  if (missing.length > 0)
    throw new EngineError(
      'MODEL_FOLDER',
      `Tokenizer files missing in ${root}: ${missing.join(', ')} (need tokenizer.json, or vocab.json and merges.txt).`,
    );
  const vocab = (await readJson(file('vocab.json'))) as Record<string, number>;
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab))
    throw new EngineError('INVALID_MODEL', `${file('vocab.json')} should map tokens to ids.`);
  if (Object.keys(vocab).length === 0) throw emptyVocabulary(file('vocab.json'));
  const merges = parseMergesTxt(await readFile(file('merges.txt'), 'utf8'));
  return namingFile(file('vocab.json'), () => new ClipTokenizer(vocab, merges, opts));
}

function emptyVocabulary(file: string): EngineError {
  return new EngineError(
    'INVALID_MODEL',
    `the tokenizer vocabulary ${file} is empty (no tokens); copy the tokenizer files from the same export again, or re-download the model set.`,
  );
}

/** Constructor errors (a special token missing from the vocabulary...) name the file they come from. */
function namingFile(file: string, make: () => ClipTokenizer): ClipTokenizer {
  try {
    return make();
  } catch (e) {
    if (e instanceof EngineError && !e.message.includes(file)) throw new EngineError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** merges.txt lines without the `#version` header and blank lines. */
export function parseMergesTxt(text: string): string[] {
  const lines = text.split(/\r?\n/);
  return lines.filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
}
