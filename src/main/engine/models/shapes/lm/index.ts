/** The shapes world's language model (word n-gram of the world's captions), behind the engine's LanguageModel. */
export {
  createShapesLm,
  lmTrainingCaptions,
  lmWords,
  loadShapesLm,
  parseShapesLm,
  saveShapesLm,
  SHAPES_LM_FORMAT,
  SHAPES_LM_NAME,
  SHAPES_LM_VERSION,
  ShapesLm,
  trainShapesLm,
  type ShapesLmFile,
  type TrainShapesLmOptions,
} from './shapes-lm.js';
export { estimateDiscount, KneserNey, type NgramCount } from './kneser-ney.js';
export { SpellingModel } from './spelling-model.js';
