/** CLIP BPE tokenizer, the prompt token counter, demo vocabulary training and the demo word list. */
export {
  BOS_TOKEN,
  ClipTokenizer,
  CONTEXT_LENGTH,
  EOS_TOKEN,
  loadClipTokenizer,
  parseMergesTxt,
  type ClipEncoding,
  type ClipTokenizerOptions,
  type DecodeOptions,
  type EncodeOptions,
} from './clip-tokenizer.js';
export { countTokens, type CountedToken, type TokenCount } from './token-counter.js';
export { trainDemoBpe, writeTokenizerFiles, type TrainBpeOptions, type TrainedBpe, type WriteTokenizerOptions } from './train.js';
export { buildWordList, defaultWordListPath, readWordList } from './word-list.js';
export { BYTE_ALPHABET, fromByteLevel, toByteLevel } from './byte-level.js';
