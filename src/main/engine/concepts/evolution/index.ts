/**
 * Evolution sessions (docs/fusion-evolution.md): populations with readable genomes, bred from the
 * artist's picks and/or a fitness, persisted in a session folder, with a lineage tree.
 */
export { modelSetBackend, type EvolutionBackend, type ModelSetBackendOptions, type Rendered, type RenderSettings } from './backend.js';
export { checkerFitness, checkerScore, clipFitness, parseFitnessSpec, textFitness, type Fitness, type FitnessSpec } from './fitness.js';
export {
  alignPhrases,
  containsWords,
  enforceLocks,
  phrasesText,
  phraseSimilarity,
  promptCrossover,
  splitPhrases,
  wordMutation,
  wordsText,
  type CrossoverOptions,
  type MutationOptions,
  type Phrase,
} from './operators.js';
export { Random } from './random.js';
export {
  checkerOnlyFitness,
  defaultSettings,
  EvolutionSession,
  loadTarget,
  THUMBNAIL_SIDE,
  type CreateSessionRequest,
  type EvolutionProgress,
  type FitnessFactory,
  type FitnessRequest,
  type GenerationView,
  type IndividualView,
  type LineageTree,
  type SessionInit,
  type SessionOptions,
  type StepOptions,
} from './session.js';
export * from './session-schema.js';
export {
  assetPath,
  embeddingBytes,
  embeddingFromBytes,
  EvolutionSessionError,
  listSessions,
  readSessionFile,
  SESSIONS_FOLDER,
  sessionsRoot,
  type SessionProblem,
  type SessionSummary,
} from './store.js';
export { sceneOfPrompt, WORLD_ORACLE_MODEL, worldFusionTasks, worldOracleBackend, type WorldFusionTask } from './world-oracle.js';
