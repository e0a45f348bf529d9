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
  /**
   * Weight of the language-model fluency term: score = distance + fluencyWeight * mean token
   * NLL (nats). 0 disables it; ignored by a decoder without a language model.
   */
  fluencyWeight?: number;
  /** How many alternatives to return (default: the beam width). */
  nBest?: number;
  signal?: AbortSignal;
  onProgress?: (e: DecodeProgress) => void;
}

export interface DecodeProgress {
  round: number;
  best: string;
  distance: number;
  candidatesScored: number;
}

/** One decoded text with its embedding distance and its score (distance + fluency term). */
export interface DecodedText {
  text: string;
  distance: number;
  score: number;
}

export interface DecodeResult {
  text: string;
  /** Embedding distance (mean squared error over the matched positions) of `text` to the target. */
  distance: number;
  /**
   * The best distinct texts the search scored (at most `nBest`), best score first; the first is
   * `text`. Lets a caller re-rank several decodings (e.g. by regenerating each).
   */
  alternatives: DecodedText[];
  rounds: number;
  candidatesScored: number;
}

export interface EmbeddingToText {
  readonly name: string;
  decode(target: TextEmbedding, opts: DecodeOptions): Promise<DecodeResult>;
}
