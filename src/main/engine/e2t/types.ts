/**
 * Embedding-to-text (E2T): turn a text-encoder output back into text.
 *
 * Two decoders share this interface: the training-free word-edit beam search
 * (hotflip-decoder.ts) and the vec2text-style inverter + corrector of the EDITOR reference
 * (vec2text.ts, loaded from ONNX exports).
 */

/** A text-encoder output: `[tokens=77, dim]` float32, row-major. */
export interface TextEmbedding {
  data: Float32Array;
  tokens: number;
  dim: number;
  /**
   * Number of meaningful positions incl. BOS and EOS (the caption length for a refined
   * embedding); defaults to all `tokens`.
   */
  length?: number;
}

/** Which parts of the embedding the decoder matches. */
export type MatchTarget =
  /** The EOS vector only (what the reference's vec2text inverter reads). */
  | 'eos'
  /** BOS..EOS positions of the current hypothesis. */
  | 'prompt'
  /** All 77 positions (padding positions of a causal encoder carry the whole prompt too). */
  | 'all';

export interface DecodeOptions {
  /** Starting text (e.g. the caption the refinement started from). */
  init: string;
  match?: MatchTarget;
  /** Beam width (default 4). */
  beam?: number;
  /** Max edit rounds (default 30). */
  maxRounds?: number;
  /** Weight of the language-model fluency term (mean token NLL); 0 disables it. */
  fluencyWeight?: number;
  signal?: AbortSignal;
  onProgress?: (e: DecodeProgress) => void;
}

export interface DecodeProgress {
  round: number;
  best: string;
  distance: number;
  candidatesScored: number;
}

export interface DecodeResult {
  text: string;
  /** Embedding distance (mean squared error over the matched positions) of `text` to the target. */
  distance: number;
  rounds: number;
  candidatesScored: number;
}

export interface EmbeddingToText {
  readonly name: string;
  decode(target: TextEmbedding, opts: DecodeOptions): Promise<DecodeResult>;
}
