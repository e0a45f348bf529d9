/**
 * Fluency scoring for decoded prompts: mean per-token negative log-likelihood under a causal
 * language model (GPT-2 by default, through transformers.js). Perplexity = exp(meanNll).
 */
import { toByteLevel } from '../diffusion/tokenizer/byte-level.js';
import { causalLmFileName, loadHubModel, locateHubModel, type HfOptions } from '../hf/transformers.js';

export interface LanguageModel {
  readonly name: string;
  /** Mean token NLL (nats) of each text; BOS-conditioned so one-word texts are scored too. */
  meanNll(texts: string[]): Promise<number[]>;
  /**
   * The `k` most likely next whole words after `prefix` ('' = start of text), most likely
   * first, with their log-probabilities (nats, of the word's first token). Words are returned
   * without surrounding spaces; tokens that continue the previous word or are punctuation-only
   * are skipped.
   */
  nextWords(prefix: string, k: number): Promise<{ word: string; logProb: number }[]>;
}

export const DEFAULT_LM_REPO = 'Xenova/gpt2';
/** Manifest id of GPT-2 (models/gpt2.json). */
export const DEFAULT_LM_MANIFEST = 'gpt2';

/** log sum_v exp(logits[offset + v]) over one position's `vocab` logits (max-shifted, so it does not overflow). */
function logSumExp(logits: Float32Array, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  return max + Math.log(sum);
}

function logSoftmaxAt(logits: Float32Array, offset: number, vocab: number, index: number): number {
  return logits[offset + index]! - logSumExp(logits, offset, vocab);
}

/** True for a token (byte-level text) that starts a word: a letter or digit first, after an optional space marker. */
const WORD_START = /^[\p{L}\p{N}]/u;
/** GPT-2's byte-level character for a space ('Ġ'). */
const SPACE_MARK = toByteLevel(' ');

interface TokenizerLike {
  encode(text: string, o: { add_special_tokens: boolean }): number[];
  decode(ids: number[], o?: object): string;
  get_vocab(): Map<string, number> | Record<string, number>;
}

/**
 * Token ids that can begin the next word: after a non-empty prefix these are `Ġword` tokens
 * (GPT-2 marks a word's leading space inside its first token); at the start of a text, where
 * the tokenizer puts no space, the unmarked `word` tokens. Continuation pieces and
 * punctuation-only tokens are left out either way.
 */
function wordStartIds(tokenizer: TokenizerLike): { initial: Int32Array; spaced: Int32Array } {
  const vocab = tokenizer.get_vocab();
  const entries = vocab instanceof Map ? [...vocab.entries()] : Object.entries(vocab);
  const initial: number[] = [];
  const spaced: number[] = [];
  for (const [tok, id] of entries) {
    if (tok.startsWith(SPACE_MARK)) {
      if (WORD_START.test(tok.slice(1))) spaced.push(id);
    } else if (WORD_START.test(tok)) initial.push(id);
  }
  return { initial: Int32Array.from(initial), spaced: Int32Array.from(spaced) };
}

/** True when the default fluency LM (GPT-2) is in the cache (checks files, loads nothing). */
export function languageModelInstalled(cacheDir: string): boolean {
  return locateHubModel(cacheDir, DEFAULT_LM_REPO, DEFAULT_LM_MANIFEST) !== undefined;
}

/** GPT-2-style causal LM loaded from a local hub folder (or the hub when online). */
export async function loadCausalLm(opts: HfOptions & { repo?: string }): Promise<LanguageModel> {
  const repo = opts.repo ?? DEFAULT_LM_REPO;
  const manifest = repo === DEFAULT_LM_REPO ? DEFAULT_LM_MANIFEST : undefined;
  const installHint = manifest
    ? `Install it with \`inversion-studio models download ${manifest}\` on a connected machine, or copy the ${repo} hub folder to ${opts.cacheDir}/${repo}.`
    : `Copy the ${repo} hub folder to ${opts.cacheDir}/${repo}.`;
  // The decoder may be onnx/model.onnx or only onnx/decoder_model_merged.onnx (the manifest's
  // file), which transformers.js would not look for by itself.
  const spec = {
    label: 'the fluency language model',
    repo,
    manifestId: manifest,
    installHint,
    files: ['tokenizer.json', 'tokenizer_config.json', ['onnx/model.onnx', 'onnx/decoder_model_merged.onnx']],
  };
  const { t, tokenizer, model } = await loadHubModel(opts, spec, async (t, id, dir) => {
    const modelFile = dir ? causalLmFileName(dir) : undefined;
    const tokenizer = (await t.AutoTokenizer.from_pretrained(id)) as TokenizerLike &
      Awaited<ReturnType<typeof t.AutoTokenizer.from_pretrained>>;
    const model = await t.AutoModelForCausalLM.from_pretrained(id, {
      device: (opts.device ?? 'cpu') as 'cpu',
      dtype: 'fp32',
      ...(modelFile ? { model_file_name: modelFile } : {}),
    });
    return { t, tokenizer, model };
  });
  const configBos = (model.config as { bos_token_id?: number }).bos_token_id;
  const bos = typeof configBos === 'number' ? configBos : (tokenizer.encode('<|endoftext|>', { add_special_tokens: false })[0] ?? 50256);
  let starts: ReturnType<typeof wordStartIds> | undefined;

  /** Logits [S, V] of `[BOS, ...tokens(text)]`. */
  const forward = async (text: string): Promise<{ ids: number[]; logits: Float32Array; vocab: number }> => {
    const ids = [bos, ...tokenizer.encode(text, { add_special_tokens: false })];
    const input = new t.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const mask = new t.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const { logits } = (await model({ input_ids: input, attention_mask: mask })) as { logits: { data: Float32Array; dims: number[] } };
    return { ids, logits: logits.data, vocab: logits.dims[2]! };
  };

  return {
    name: repo,
    async meanNll(texts) {
      const out: number[] = [];
      for (const text of texts) {
        const { ids, logits, vocab } = await forward(text);
        let nll = 0;
        for (let p = 1; p < ids.length; p++) nll -= logSoftmaxAt(logits, (p - 1) * vocab, vocab, ids[p]!);
        out.push(ids.length > 1 ? nll / (ids.length - 1) : 0);
      }
      return out;
    },
    async nextWords(prefix, k) {
      if (k <= 0) return [];
      const text = prefix.trim();
      const { ids, logits, vocab } = await forward(text);
      starts ??= wordStartIds(tokenizer);
      const candidates = text === '' ? starts.initial : starts.spaced;
      const off = (ids.length - 1) * vocab;
      const logZ = logSumExp(logits, off, vocab);
      // Top k by partial insertion: k is small next to the vocabulary.
      const top: { id: number; logProb: number }[] = [];
      for (const id of candidates) {
        if (id >= vocab) continue;
        const logProb = logits[off + id]! - logZ;
        if (top.length === k && logProb <= top[k - 1]!.logProb) continue;
        let i = Math.min(top.length, k - 1);
        if (top.length < k) top.push({ id, logProb });
        while (i > 0 && top[i - 1]!.logProb < logProb) {
          top[i] = top[i - 1]!;
          i--;
        }
        top[i] = { id, logProb };
      }
      return top.map(({ id, logProb }) => ({ word: tokenizer.decode([id], { skip_special_tokens: true }).trim(), logProb }));
    },
  };
}
