/**
 * Perplexity of prompts under a language model (GPT-2 in the papers, the shapes world's n-gram LM
 * on that world): per prompt exp(mean token NLL), the mean NLL being the LM's `meanNll` (nats,
 * conditioned on BOS, end of text not scored for GPT-2). A benchmark reports the mean of the
 * per-prompt perplexities (as the EDITOR/PEZ tables do), which a few word salads dominate.
 */
import type { LanguageModel } from '../e2t/language-model.js';

export async function perplexities(lm: Pick<LanguageModel, 'meanNll'>, texts: string[]): Promise<number[]> {
  return (await lm.meanNll(texts)).map((nll) => Math.exp(nll));
}
