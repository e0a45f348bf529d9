/**
 * Concept removal and replacement by editing the readable prompt (docs/editing.md): the word diff
 * names the edit, the mode (regenerate, prompt-to-prompt attention control, local blend) comes
 * from it, and the result is measured against the source inside and outside the edit's mask.
 */
export {
  alignKeys,
  describeDiff,
  describeEdit,
  diffPrompts,
  diffWords,
  promptDiffWords,
  type DiffWord,
  type EditKind,
  type PromptDiff,
  type WordEdit,
} from '../../../../shared/prompt-diff.js';
export {
  diffTokenised,
  mapAttention,
  mappedPositions,
  tokenisePrompt,
  tokenMapping,
  type MappedSource,
  type MappingOptions,
  type TokenMapping,
  type TokenisedPrompt,
} from './align.js';
export {
  chooseMode,
  defaultDilation,
  EDIT_DEFAULTS,
  EDIT_MODES,
  isEditModeChoice,
  keptFraction,
  NothingToEditError,
  planEdit,
  type BlendOptions,
  type EditMode,
  type EditModeChoice,
  type EditPlan,
  type EditRequest,
  type EditSource,
  type MaskWords,
  type SuppressOptions,
} from './plan.js';
export {
  addAttentionControl,
  CONTROL_PREFIX,
  findSelfAttention,
  type ControlGraph,
  type ControlKind,
  type ControlledLayer,
  type ControlOptions,
  type SelfAttentionLayer,
} from './control-graph.js';
export {
  ALL_QUERIES,
  openAttentionControl,
  releaseAttentionControl,
  type AttentionControl,
  type ControlRunInput,
  type ControlRunOutput,
  type LayerFeed,
  type LayerProbabilities,
} from './control-session.js';
export { controlledPredictor, type ControlledPredictorOptions, type StepControl } from './predictor.js';
export { blendLatents, dilate, editMask, headMean, upsampleMask, wordsMap, type MaskOptions } from './blend.js';
export { CHANGE_TOLERANCE, describeReport, editReport, type EditReport, type RegionChange } from './report.js';
export { schedulerFromLabel, sourceParameters, type SourceParameters } from './source.js';
export {
  editGeneration,
  type EditCancelled,
  type EditMask,
  type EditOptions,
  type EditProgress,
  type EditRecord,
  type EditResult,
  type EditWarning,
} from './edit.js';
