/**
 * The shapes model set: a text-to-image set the project trains itself over the shapes world
 * (world/), with the world's CLIP and captioner. Architectures, training recipes, export, the
 * install into the cache (`--models shapes`), and evaluation with the world's checker.
 */
export { FULL_ARCHITECTURE, TINY_ARCHITECTURE, type ShapesArchitecture } from './architecture.js';
export { CAPTIONER_HEADS, CAPTIONER_LOGITS, LAYOUTS, buildCaptionerModel, captionTarget, captionerConfig, decodeCaptionerLogits, layoutOf, type CaptionerHead, type DecodedCaption, type Layout } from './captioner.js';
export { buildClipImageEncoder, buildClipTextEncoder, clipConfig } from './clip.js';
export { SHAPES_HIDDEN, SHAPES_CLIP_DIM, buildShapesTextEncoder, shapesBpe } from './text.js';
export { buildShapesVaeDecoder, buildShapesVaeEncoder, type ShapesVaeOptions } from './vae.js';
export { committedShapesDir, ensureShapesModelSet } from './install.js';
export { readShapesStamp, SHAPES_GENERATOR_VERSION, SHAPES_MODEL_ID, type ShapesStamp } from './stamp.js';
export { writeShapesSet, shapesSizeMultiple, type TrainedShapesSet } from './export.js';
export { evaluateCaptioner, evaluateGeneration, evaluateImages, evaluationScenes, type FidelityReport } from './evaluate.js';
export { trainShapesSet, type PhaseSummary, type TrainShapesOptions, type TrainShapesResult } from './train-set.js';
export { FULL_TRAIN_CONFIG, QUICK_TRAIN_CONFIG, TINY_TRAIN_CONFIG, trainConfig, type ShapesTrainConfig } from './recipes/config.js';
