/**
 * Cross-concept fusion (docs/fusion-evolution.md): two or more parents (prompts, images inverted
 * on the fly or from the library, embeddings) fused by concat, blend, compose, alternate or
 * regions, and a grid of modes × weights.
 */
export { defaultWeightSets, fuse, fuseGrid, GRID_GAP, tileImages, validateFuseRequest } from './fuse.js';
export {
  budgetPieces,
  concatPrompt,
  joinParts,
  parentAttention,
  partFromAttention,
  positionMass,
  trimToBudget,
  type BudgetPart,
  type BudgetPiece,
} from './concat.js';
export { openEmbeddingDecoder, type DecodedEmbedding, type EmbeddingDecoder, type EmbeddingDecoderOptions } from './decode-text.js';
export { lerpMany, normaliseWeights, rms, slerp, slerpMany } from './embedding-math.js';
export { checkParents, parentLetter, resolveParents } from './parents.js';
export {
  alternatePredictor,
  alternationSchedule,
  combineCompose,
  composePredictor,
  MAX_UNET_BATCH,
  predictEach,
  regionPredictor,
} from './predictors.js';
export { attentionMask, defaultRegions, geometricMask, MASK_FLOOR, normaliseMasks } from './regions.js';
export * from './types.js';
