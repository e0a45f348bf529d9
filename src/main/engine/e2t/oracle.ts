/**
 * What the training-free E2T decoder needs from a text encoder: batched encoding, a VJP with
 * respect to the input token embeddings (for HotFlip proposals) and the vocabulary of whole
 * words with their embedding rows. `text-encoder-oracle.ts` implements it on onnxruntime.
 */
export interface WordToken {
  /** Token id in the text encoder's vocabulary. */
  id: number;
  /** The word it spells (without CLIP's `</w>` suffix). */
  word: string;
}

export interface EncodedText {
  /** Text-encoder output, [tokens * dim] row-major. */
  embedding: Float32Array;
  /** Number of tokens incl. BOS and EOS (EOS sits at index length - 1). */
  length: number;
  /** Token ids, padded to `tokens`. */
  ids: Int32Array;
}

export interface TextEncoderOracle {
  /** Sequence length of the encoder (77 for CLIP). */
  readonly tokens: number;
  /** Width of the encoder output and of the token embeddings (768 for SD 1.x). */
  readonly dim: number;
  /** Single-token whole words the decoder may propose. */
  readonly words: readonly WordToken[];
  /** Encode texts in batches. */
  encode(texts: string[]): Promise<EncodedText[]>;
  /**
   * VJP of the encoder output w.r.t. the input token embeddings of `text`.
   * @param cotangent [tokens * dim] cotangent of the output
   * @returns [tokens * dim] gradient w.r.t. the embedding row fed at each position
   */
  embeddingGrad(text: string, cotangent: Float32Array): Promise<Float32Array>;
  /** Input embedding row (length `dim`) of a token id. */
  tokenEmbedding(id: number): Float32Array;
}
