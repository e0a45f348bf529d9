/**
 * Fluency scoring for decoded prompts: mean per-token negative log-likelihood under a causal
 * language model (GPT-2 by default, through transformers.js). Perplexity = exp(meanNll).
 */
import { EngineError } from '../errors.js';
import { loadTransformers, locateHubModel, type HfOptions } from '../hf/transformers.js';

export interface LanguageModel {
  readonly name: string;
  /** Mean token NLL (nats) of each text; BOS-conditioned so one-word texts are scored too. */
  meanNll(texts: string[]): Promise<number[]>;
}

export const DEFAULT_LM_REPO = 'Xenova/gpt2';
/** Manifest id of GPT-2 (models/gpt2.json). */
export const DEFAULT_LM_MANIFEST = 'gpt2';

function logSoftmaxAt(logits: Float32Array, offset: number, vocab: number, index: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  return logits[offset + index]! - max - Math.log(sum);
}

/** GPT-2-style causal LM loaded from a local hub folder (or the hub when online). */
export async function loadCausalLm(opts: HfOptions & { repo?: string }): Promise<LanguageModel> {
  const repo = opts.repo ?? DEFAULT_LM_REPO;
  const ref = locateHubModel(opts.cacheDir, repo, repo === DEFAULT_LM_REPO ? DEFAULT_LM_MANIFEST : undefined);
  if (!ref && (opts.offline ?? false)) {
    throw new EngineError(
      'NOT_INSTALLED',
      `the fluency language model (${repo}) is not installed in ${opts.cacheDir}. ` +
        `Install it with \`inversion-studio models download ${DEFAULT_LM_MANIFEST}\` on a connected machine, or copy the ${repo} hub folder to ${opts.cacheDir}/${repo}.`,
    );
  }
  const t = await loadTransformers(opts);
  if (ref) t.env.localModelPath = ref.localModelPath;
  const id = ref?.modelId ?? repo;
  const tokenizer = await t.AutoTokenizer.from_pretrained(id);
  const model = await t.AutoModelForCausalLM.from_pretrained(id, { device: (opts.device ?? 'cpu') as 'cpu' });
  const bos = (tokenizer.encode('<|endoftext|>', { add_special_tokens: false }) as number[])[0] ?? 50256;
  return {
    name: repo,
    async meanNll(texts) {
      const out: number[] = [];
      for (const text of texts) {
        const ids = [bos, ...(tokenizer.encode(text, { add_special_tokens: false }) as number[])];
        const input = new t.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
        const mask = new t.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
        const { logits } = (await model({ input_ids: input, attention_mask: mask })) as { logits: { data: Float32Array; dims: number[] } };
        const vocab = logits.dims[2]!;
        let nll = 0;
        for (let p = 1; p < ids.length; p++) nll -= logSoftmaxAt(logits.data, (p - 1) * vocab, vocab, ids[p]!);
        out.push(ids.length > 1 ? nll / (ids.length - 1) : 0);
      }
      return out;
    },
  };
}
