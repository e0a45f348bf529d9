/**
 * The shapes world: a scene grammar, an exact renderer (pixels + per-object masks), a checker that
 * reads a scene back from any image, a seeded sampler with a held-out split, and slot scoring. It
 * is the ground truth the shapes model set is trained on and measured against.
 */
export * from './vocabulary.js';
export { ANCHORS, CROSS_ARM, EXTENT, insideShape, objectPlacements, POSITION_JITTER, SIZE_JITTER, type Placement } from './geometry.js';
export { canonicalScene, normalisePrompt, parsePrompt, PromptParseError, sceneToPrompt, validateScene } from './grammar.js';
export {
  allCanonicalScenes,
  createRng,
  HELD_OUT_FRACTION,
  heldOutCanonicalScenes,
  heldOutPrompts,
  heldOutScenes,
  isHeldOut,
  sampleHeldOut,
  sampleScene,
  type Rng,
  type SampleOptions,
  type Split,
} from './sampler.js';
export {
  imageToTensor,
  renderScene,
  rgbBytes,
  sceneToTensor,
  tensorToImage,
  type RenderedScene,
  type RenderOptions,
  type RgbImageLike,
} from './renderer.js';
export { checkImage, SIZE_THRESHOLD, type CheckedObject, type CheckOptions, type CheckResult } from './checker.js';
export type { PixelBox } from './shape-fit.js';
export {
  addSlotAccuracy,
  emptySlotAccuracy,
  OBJECT_SLOTS,
  readSlots,
  slotAccuracy,
  type ObjectSlot,
  type PartialObject,
  type PartialScene,
  type SlotAccuracy,
  type SlotCount,
  type SlotName,
} from './slots.js';
