/**
 * Which embedding-to-text decoder a model set gets:
 *  - `vec2text`: the trained inverter + corrector installed in the model set's folder
 *    (`<set>/e2t/`, layout in vec2text-layout.ts), or a folder given explicitly;
 *  - `search`: the training-free HotFlip word-edit search, its proposals restricted to a
 *    whole-word dictionary (the model set's own `<set>/words.txt` when it ships one, else the
 *    project's prompt word list models/demo/words.txt) and, given a language model (GPT-2, or
 *    the model set's own), LM proposals and the fluency term;
 *  - `auto` (default): the trained pair when the set has one that loads for its text encoder,
 *    else the search (with a warning saying why, when a pair is there but cannot be used).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import type { ModelSet } from '../diffusion/load-model-set.js';
import { encodeIds } from '../diffusion/text-encoder.js';
import { defaultWordListPath, readWordList } from '../diffusion/tokenizer/index.js';
import type { ProviderChoice } from '../runtime/providers.js';
import { HotFlipDecoder, type HotFlipOptions } from './hotflip-decoder.js';
import type { LanguageModel } from './language-model.js';
import type { TextEncoderOracle } from './oracle.js';
import type { DecodeOptions, DecodeResult, EmbeddingToText, TextEmbedding } from './types.js';
import { loadVec2Text, type TextEncoderLike } from './vec2text.js';
import { CONFIG_FILE } from './vec2text-layout.js';

export type E2tChoice = 'vec2text' | 'search' | 'auto';
export const E2T_CHOICES: readonly E2tChoice[] = ['vec2text', 'search', 'auto'];

/** Where a model set keeps its trained pair and its word list. */
export const E2T_SUBFOLDER = 'e2t';
export const WORD_LIST_FILE = 'words.txt';

/** The trained pair installed in a model set's folder (`<set>/e2t/` with a config.json), or undefined. */
export function findE2tFolder(modelSetDir: string): string | undefined {
  const dir = path.join(modelSetDir, E2T_SUBFOLDER);
  return existsSync(path.join(dir, CONFIG_FILE)) ? dir : undefined;
}

/**
 * The search's dictionary for a model set: `<set>/words.txt` (one word a line, `#` comments)
 * when the set ships one (e.g. the shapes world's vocabulary), else the project's prompt word list.
 */
export function modelSetWordList(modelSetDir?: string): { file: string; words: string[] } {
  const own = modelSetDir ? path.join(modelSetDir, WORD_LIST_FILE) : undefined;
  const file = own && existsSync(own) ? own : defaultWordListPath();
  const words = readWordList(file);
  if (words.length === 0) throw new EngineError('INVALID_ARGUMENT', `the word list ${file} is empty`);
  return { file, words };
}

/** The text encoder of a loaded model set as the vec2text loop needs it (its own tokenizer, batched runs). */
export function textEncoderOfModelSet(ms: ModelSet, batch = 16): TextEncoderLike {
  const L = ms.io.sequenceLength;
  const D = ms.io.hiddenSize;
  return {
    tokens: L,
    dim: D,
    async encode(texts) {
      const out: { embedding: Float32Array; length: number }[] = [];
      for (let s = 0; s < texts.length; s += batch) {
        const chunk = texts.slice(s, s + batch).map((t) => ms.tokenizer.encode(t));
        const ids = new Int32Array(chunk.length * L);
        chunk.forEach((c, i) => ids.set(c.ids, i * L));
        const y = await encodeIds(ms, ids, chunk.length);
        chunk.forEach((c, i) => out.push({ embedding: y.slice(i * L * D, (i + 1) * L * D), length: c.length }));
      }
      return out;
    },
  };
}

export interface OpenE2tOptions {
  /** Default 'auto'. */
  choice?: E2tChoice;
  /** The model set's folder: its `e2t/` and `words.txt` are used when present. */
  modelSetDir?: string;
  /** A trained pair's folder, instead of `<set>/e2t/`. */
  e2tDir?: string;
  /** The model set's text encoder, for re-encoding hypotheses (vec2text). */
  encoder: TextEncoderLike;
  /** The search's text-encoder oracle (it differentiates the encoder, so it is built only when the search is chosen). */
  oracle: () => Promise<TextEncoderOracle>;
  /** Language model for the search's proposals and fluency term (e.g. GPT-2, or the model set's n-gram LM). */
  lm?: LanguageModel;
  /** The search's whole-word dictionary; default modelSetWordList(modelSetDir); false = every whole-word token. */
  dictionary?: readonly string[] | false;
  /** Further HotFlip settings (proposals per slot etc.). */
  search?: Omit<HotFlipOptions, 'lm' | 'dictionary'>;
  provider?: ProviderChoice;
  threads?: number;
  onWarning?: (message: string) => void;
}

export interface OpenedE2t {
  decoder: EmbeddingToText;
  kind: 'vec2text' | 'search';
  /** The trained pair's folder (vec2text). */
  folder?: string;
  /** The dictionary file the search uses (when read from disk). */
  dictionaryFile?: string;
  warnings: string[];
  release(): Promise<void>;
}

/**
 * Open the decoder `choice` asks for.
 * @throws EngineError('NOT_INSTALLED') for `vec2text` when no pair is installed, and the loader's
 *   MODEL_FOLDER / INVALID_MODEL errors when the pair cannot be used (with `auto` those become a
 *   warning and the search)
 */
export async function openE2tDecoder(o: OpenE2tOptions): Promise<OpenedE2t> {
  const choice = o.choice ?? 'auto';
  if (!E2T_CHOICES.includes(choice))
    throw new EngineError('INVALID_ARGUMENT', `unknown E2T decoder '${String(choice)}' (one of ${E2T_CHOICES.join(', ')})`);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };
  if (choice !== 'search') {
    const folder = o.e2tDir ?? (o.modelSetDir ? findE2tFolder(o.modelSetDir) : undefined);
    if (!folder) {
      if (choice === 'vec2text') {
        throw new EngineError(
          'NOT_INSTALLED',
          `no trained E2T pair is installed${o.modelSetDir ? ` in ${path.join(o.modelSetDir, E2T_SUBFOLDER)}` : ''}. ` +
            'For SD 1.5, export the published pair with scripts/export-e2t.py into <model set>/e2t (docs/e2t.md), or decode with the search (--e2t search).',
        );
      }
    } else {
      try {
        const decoder = await loadVec2Text(folder, {
          embedder: o.encoder,
          onWarning: warn,
          ...(o.provider ? { provider: o.provider } : {}),
          ...(o.threads ? { threads: o.threads } : {}),
        });
        return { decoder, kind: 'vec2text', folder, warnings, release: () => decoder.release() };
      } catch (e) {
        if (choice === 'vec2text' || !(e instanceof EngineError) || !['MODEL_FOLDER', 'INVALID_MODEL'].includes(e.code)) throw e;
        warn(`the trained E2T pair cannot be used, decoding with the search instead: ${e.message}`);
      }
    }
  }
  let dictionary: readonly string[] | undefined;
  let dictionaryFile: string | undefined;
  if (o.dictionary === undefined) {
    const list = modelSetWordList(o.modelSetDir);
    dictionary = list.words;
    dictionaryFile = list.file;
  } else if (o.dictionary !== false) {
    dictionary = o.dictionary;
  }
  const oracle = await o.oracle();
  const decoder = new HotFlipDecoder(oracle, { ...o.search, ...(o.lm ? { lm: o.lm } : {}), ...(dictionary ? { dictionary } : {}) });
  return { decoder, kind: 'search', ...(dictionaryFile ? { dictionaryFile } : {}), warnings, release: async () => {} };
}

/**
 * Decode one text embedding with the chosen decoder (opens it, decodes, releases it). For
 * several embeddings open the decoder once with `openE2tDecoder` and call its `decode`.
 * @param target the text-encoder output [tokens, D] with its meaningful length
 */
export async function decodeEmbedding(
  target: TextEmbedding,
  o: OpenE2tOptions & { decode: DecodeOptions },
): Promise<DecodeResult & { decoder: 'vec2text' | 'search'; warnings: string[] }> {
  const opened = await openE2tDecoder(o);
  try {
    const r = await opened.decoder.decode(target, o.decode);
    return { ...r, decoder: opened.kind, warnings: opened.warnings };
  } finally {
    await opened.release();
  }
}
