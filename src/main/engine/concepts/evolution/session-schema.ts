/**
 * The evolution session file (`session.json` in the session folder), version 1. Every path in it
 * is relative to the session folder and stays inside it (images/, thumbs/, embeddings/, targets/).
 * docs/fusion-evolution.md, "Session folder", describes the layout.
 */
import { z } from 'zod';

export const SESSION_FORMAT = 'inversion-studio-evolution';
export const SESSION_VERSION = 1;
export const SESSION_FILE = 'session.json';

export const OPERATORS = [
  'init',
  'init-image',
  'prompt-crossover',
  'embedding-crossover',
  'word-mutation',
  'gaussian-mutation',
  'reinvert',
] as const;
export type Operator = (typeof OPERATORS)[number];

/** A path inside the session folder: forward slashes, no `..`, no absolute paths. */
const RelPath = z
  .string()
  .max(200)
  .regex(/^(images|thumbs|embeddings|targets)\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a file inside the session folder');
const Id = z
  .string()
  .max(40)
  .regex(/^g\d+-[a-z0-9]+$/, 'expected an individual id such as g3-02');
const GenId = z
  .string()
  .max(20)
  .regex(/^g\d+$/, 'expected a generation id such as g3');
const Seed = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Word = z.string().min(1).max(200);

export const IndividualSchema = z.strictObject({
  id: Id,
  /** The generation it was born in. */
  generation: GenId,
  /** The readable genome (for embedding-born individuals, their decoded text). */
  prompt: z.string().max(10_000),
  seed: Seed,
  parents: z.array(Id).max(8),
  operator: z.enum(OPERATORS),
  /** What the operator did, in words ("substituted "red" -> "blue"", "slerp t=0.42"). */
  detail: z.string().max(1000).optional(),
  /** Whether the image was rendered from the prompt or from a stored embedding. */
  conditioning: z.enum(['text', 'embedding']),
  /** Raw little-endian float32 [tokens·D] (conditioning 'embedding'), and its length incl. BOS/EOS. */
  embedding: z.strictObject({ file: RelPath, sha256: z.string().regex(/^[0-9a-f]{64}$/), length: z.number().int().min(1) }).optional(),
  /** Embedding distance of `prompt` to the embedding it was decoded from. */
  decodedDistance: z.number().optional(),
  image: RelPath,
  thumbnail: RelPath,
  fitness: z.number().optional(),
  /** Words the individual's children must keep. */
  locks: z.array(Word).max(64),
  createdAt: z.string().max(40),
});
export type Individual = z.infer<typeof IndividualSchema>;

export const GenerationSchema = z.strictObject({
  id: GenId,
  /** The generation it was bred (or branched) from. */
  parent: GenId.optional(),
  kind: z.enum(['init', 'bred', 'branch']),
  members: z.array(Id).max(1024),
  /** The favourites the artist picked to breed it (absent: selected by fitness). */
  picks: z.array(Id).max(1024).optional(),
  /** For a branch: the ancestor it starts from (its default pick). */
  branchedFrom: Id.optional(),
  createdAt: z.string().max(40),
});
export type Generation = z.infer<typeof GenerationSchema>;

export const FitnessSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('checker'), prompt: z.string().min(1).max(2000) }),
  z.strictObject({ kind: z.literal('clip'), image: RelPath }),
  z.strictObject({ kind: z.literal('text'), text: z.string().min(1).max(2000) }),
]);
export type StoredFitness = z.infer<typeof FitnessSpecSchema>;

export const OperatorWeightsSchema = z.strictObject({
  promptCrossover: z.number().min(0),
  embeddingCrossover: z.number().min(0),
  wordMutation: z.number().min(0),
  gaussianMutation: z.number().min(0),
});
export type OperatorWeights = z.infer<typeof OperatorWeightsSchema>;

export const SessionSettingsSchema = z.strictObject({
  seed: Seed,
  population: z.number().int().min(2).max(256),
  /** Best individuals carried into the next generation unchanged. */
  elite: z.number().int().min(0).max(64),
  /** Tournament size of fitness selection. */
  tournament: z.number().int().min(1).max(16),
  operators: OperatorWeightsSchema,
  /** Probability that a crossover child also gets a word mutation. */
  mutationRate: z.number().min(0).max(1),
  /** Probability that a child gets a fresh seed instead of its first parent's. */
  seedMutationRate: z.number().min(0).max(1),
  /**
   * Probability that a crossover's second parent is one of the session's starting individuals
   * (generation 0's init members), so the concepts the session began with stay in the gene pool.
   */
  rootRate: z.number().min(0).max(1),
  /** Gaussian mutation: noise standard deviation in units of the embedding's RMS. */
  sigma: z.number().min(0).max(10),
  interpolation: z.enum(['slerp', 'lerp']),
  /** Joins phrases from different parents in prompt crossover. */
  joiner: z.string().max(20),
  render: z.strictObject({
    width: z.number().int().min(8).max(4096),
    height: z.number().int().min(8).max(4096),
    steps: z.number().int().min(1).max(1000),
    scheduler: z.enum(['ddim', 'euler', 'lms', 'turbo']),
    guidance: z.number().min(0).max(100),
    negativePrompt: z.string().max(10_000),
  }),
});
export type SessionSettings = z.infer<typeof SessionSettingsSchema>;

export const EventSchema = z.strictObject({
  at: z.string().max(40),
  kind: z.enum(['create', 'breed', 'lock', 'reinvert', 'branch']),
  /** The generation the event made or changed. */
  generation: GenId.optional(),
  ids: z.array(Id).max(1024).optional(),
  words: z.array(Word).max(64).optional(),
});
export type SessionEvent = z.infer<typeof EventSchema>;

export const SessionFileSchema = z.strictObject({
  format: z.literal(SESSION_FORMAT),
  version: z.literal(SESSION_VERSION),
  id: z.string().min(1).max(80),
  name: z.string().max(200).optional(),
  createdAt: z.string().max(40),
  updatedAt: z.string().max(40),
  /** The model set the session renders with. */
  model: z.string().min(1).max(500),
  settings: SessionSettingsSchema,
  fitness: FitnessSpecSchema.optional(),
  /** The generation breeding continues from. */
  head: GenId,
  generations: z.array(GenerationSchema).min(1).max(10_000),
  individuals: z.array(IndividualSchema).min(1).max(100_000),
  events: z.array(EventSchema).max(100_000),
});
export type SessionFile = z.infer<typeof SessionFileSchema>;
