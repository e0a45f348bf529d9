/**
 * Prompt -> text embedding: CLIP tokenisation (77 positions, BOS/EOS/padding as the tokenizer
 * files say) and the text encoder's `last_hidden_state`, the [77, D] tensor the UNet's
 * cross-attention reads and EDITOR optimises.
 */
import { EngineError } from '../errors.js';
import { idsTensor, tensorToFloat32 } from '../runtime/tensors.js';
import type { ModelSet } from './load-model-set.js';

export interface PromptEncoding {
  /** last_hidden_state, [sequenceLength * hiddenSize] row-major (token-major). */
  embedding: Float32Array;
  /** Token ids fed to the encoder ([sequenceLength]). */
  ids: Int32Array;
  /** Vocabulary strings of BOS ... EOS. */
  tokens: string[];
  /** Meaningful positions including BOS and EOS. */
  length: number;
  /** The part of the prompt that did not fit, or null. */
  truncated: { text: string; words: string[] } | null;
  /** Per position BOS..EOS: source span (in the NFC-normalised prompt) of its word; null for BOS/EOS. */
  spans: ({ start: number; end: number } | null)[];
}

/**
 * Run the text encoder on token ids.
 * @param ids `batch * sequenceLength` ids
 * @returns `batch * sequenceLength * hiddenSize` floats
 */
export async function encodeIds(ms: ModelSet, ids: Int32Array, batch = 1): Promise<Float32Array> {
  const L = ms.io.sequenceLength;
  if (ids.length !== batch * L) throw new EngineError('SHAPE_MISMATCH', `expected ${batch * L} token ids, got ${ids.length}`);
  const out = await ms.textEncoder.run({ input_ids: idsTensor(ids, [batch, L], ms.io.idsType) }, [ms.io.names.textOutput]);
  const emb = tensorToFloat32(out[ms.io.names.textOutput]!);
  const expected = batch * L * ms.io.hiddenSize;
  if (emb.length !== expected)
    throw new EngineError(
      'INVALID_MODEL',
      `text encoder returned ${emb.length} values, expected ${expected} ([${batch}, ${L}, ${ms.io.hiddenSize}])`,
    );
  return emb;
}

/** Tokenise and encode a prompt, reporting what was truncated. */
export async function encodePromptDetailed(ms: ModelSet, text: string): Promise<PromptEncoding> {
  const enc = ms.tokenizer.encode(text);
  if (enc.ids.length !== ms.io.sequenceLength)
    throw new EngineError(
      'INVALID_MODEL',
      `the tokenizer makes ${enc.ids.length} positions but the text encoder takes ${ms.io.sequenceLength}`,
    );
  const embedding = await encodeIds(ms, enc.ids, 1);
  return { embedding, ids: enc.ids, tokens: enc.tokens, length: enc.length, truncated: enc.truncated, spans: enc.spans };
}

/** The text embedding of a prompt: Float32Array of [77 * D] (D = modelSet.io.hiddenSize). */
export async function encodePrompt(ms: ModelSet, text: string): Promise<Float32Array> {
  return (await encodePromptDetailed(ms, text)).embedding;
}
