/**
 * Cross-attention segmentation (DAAM): capture the UNet's cross-attention by graph surgery,
 * aggregate it into per-word heat maps, threshold them into masks. docs/segmentation.md.
 */
export {
  AttentionCaptureError,
  findCrossAttention,
  layerNameOf,
  type CrossAttentionLayer,
  type FindOptions,
} from './find-cross-attention.js';
export { addAttentionOutputs, CAPTURE_OUTPUT_PREFIX, type CaptureGraph } from './capture-graph.js';
export {
  openAttentionCapture,
  releaseAttentionCapture,
  type AttentionCapture,
  type CaptureInput,
  type CaptureOutput,
} from './capture-session.js';
export { capturingPredictor } from './capture-predictor.js';
export { AttentionAccumulator, mapSize, type CapturedAttention, type LayerAttention } from './maps.js';
export { resizeBicubic } from './bicubic.js';
export {
  DEFAULT_LAYER_SELECTION,
  DEFAULT_THRESHOLD,
  maskArea,
  multiLabel,
  normaliseMinMax,
  selectLayers,
  thresholdMask,
  tokenHeatMap,
  wordHeatMap,
  type HeatMapOptions,
  type LayerSelection,
} from './aggregate.js';
export { defaultWords, lookupWord, promptWords, STOP_WORDS, type PromptPiece, type PromptWords, type WordTokens } from './words.js';
export {
  planSegmentation,
  segmentCaptured,
  type SegmentationPlan,
  type SegmentationSource,
  type Segmentation,
  type SegmentOptions,
  type WordSegment,
} from './segment.js';
export {
  attentionForImage,
  generateWithAttention,
  NOISING_TIMESTEPS,
  segmentGeneration,
  segmentImage,
  segmentInversionAnswer,
  workingSize,
  type AttentionGenerateOptions,
  type ImageTensor,
  type NoisingOptions,
} from './image-attention.js';
export {
  heatColour,
  heatmapPng,
  labelColour,
  labelsPng,
  maskPng,
  overlayPng,
  slug,
  writeSegmentation,
  type RgbImage,
  type SegmentationSummary,
} from './render.js';
export { decodePayloadGrid, encodeAttentionPayload, gridSize, PAYLOAD_GRID_SIDE, type AttentionMapPayload } from './payload.js';
