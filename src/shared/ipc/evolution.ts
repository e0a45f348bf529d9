/**
 * Evolution sessions in the studio (docs/fusion-evolution.md, "Studio"). A session lives in the
 * library folder under `evolution/<session id>/` (session.json, images/, thumbs/, embeddings/,
 * targets/). The long operations are jobs — `createEvolution` (start a session from library
 * images and prompts), `breedEvolution` (the next generation from the artist's picks and/or the
 * fitness), `reinvertEvolution` (an individual's image inverted back into the gene pool) — each
 * answering with the whole session; the quick ones are plain requests answered with it:
 * `openEvolution`, `lockEvolution`, `branchEvolution`; plus `exportEvolution` and `listEvolutions`.
 *
 * Images travel as library paths `evolution/<session>/images/<id>.png` and `…/thumbs/<id>.png`
 * (EvolutionFileSchema), which `StudioApi.imageUrl` serves like any library file.
 */
import { z } from 'zod';
import {
  IdSchema,
  ImageSideSchema,
  ModelSetRefSchema,
  NameSchema,
  PathSchema,
  PromptSchema,
  SchedulerSchema,
  SeedSchema,
  TextSchema,
  TimestampSchema,
} from './common.js';
import { LibraryFileSchema } from './library.js';
import {
  ID_PATTERN,
  MAX_EVOLUTION_GENERATIONS,
  MAX_EVOLUTION_INDIVIDUALS,
  MAX_EVOLUTION_INIT,
  MAX_EVOLUTION_PICKS,
  MAX_EVOLUTION_POPULATION,
  MAX_EVOLUTIONS,
} from './limits.js';

/** The library's sub-folder of evolution sessions. */
export const EVOLUTION_FOLDER = 'evolution';

/** A session: its folder's name under `evolution/`. */
export const SessionIdSchema = IdSchema;
/** An individual (`g3-02`, a re-inversion `g3-r1`). */
export const IndividualIdSchema = z
  .string()
  .max(16)
  .regex(/^g\d{1,6}-[a-z0-9]{1,8}$/, 'expected an individual id such as g3-02');
/** A generation (`g3`). */
export const GenerationIdSchema = z
  .string()
  .max(8)
  .regex(/^g\d{1,6}$/, 'expected a generation id such as g3');

/**
 * A session image as a library path: `evolution/<session id>/images/<file>.png` or `…/thumbs/…`.
 * Nothing else under the session folder is served (no embeddings, targets or session.json), and
 * no segment can be `..` or empty (each starts with a letter or digit).
 */
export const EVOLUTION_FILE_PATTERN = new RegExp(
  `^${EVOLUTION_FOLDER}/(${ID_PATTERN.source.slice(1, -1)})/(images|thumbs)/([A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.png)$`,
);
export const EvolutionFileSchema = z
  .string()
  .max(256)
  .regex(EVOLUTION_FILE_PATTERN, 'expected evolution/<session>/images|thumbs/<file>.png');
export type EvolutionFile = z.infer<typeof EvolutionFileSchema>;

/** The parts of a session image path, or undefined when it is not one. */
export function parseEvolutionFile(name: string): { session: string; folder: 'images' | 'thumbs'; file: string } | undefined {
  if (name.length > 256) return undefined;
  const m = EVOLUTION_FILE_PATTERN.exec(name);
  return m ? { session: m[1]!, folder: m[2] as 'images' | 'thumbs', file: m[3]! } : undefined;
}

/** A starting individual: a typed prompt, or a library image (by its recorded prompt, else inverted). */
export const EvolutionInitSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('prompt'), text: PromptSchema.refine((t) => t.trim() !== '', 'a starting prompt is empty') }),
  z.strictObject({ kind: z.literal('library'), id: IdSchema, file: LibraryFileSchema.optional() }),
]);
export type EvolutionInit = z.infer<typeof EvolutionInitSchema>;

/**
 * What breeding without picks selects by: `checker` (the shapes world's scene checker against a
 * prompt), `text` (CLIP image–text similarity, where CLIP ViT-L/14 is installed), `clip` (CLIP
 * image similarity to a library image).
 */
export const EvolutionFitnessRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('checker'), prompt: z.string().min(1).max(2000) }),
  z.strictObject({ kind: z.literal('text'), text: z.string().min(1).max(2000) }),
  z.strictObject({ kind: z.literal('clip'), image: z.strictObject({ id: IdSchema, file: LibraryFileSchema.optional() }) }),
]);
export type EvolutionFitnessRequest = z.infer<typeof EvolutionFitnessRequestSchema>;

/** Start a session; fields left out take the model set's defaults (population 8, elite 1, seed 0). */
export const CreateEvolutionRequestSchema = z.strictObject({
  type: z.literal('createEvolution'),
  init: z.array(EvolutionInitSchema).min(1, 'a session starts from at least one image or prompt').max(MAX_EVOLUTION_INIT),
  name: NameSchema.optional(),
  population: z.number().int().min(2).max(MAX_EVOLUTION_POPULATION).optional(),
  /** Best individuals carried into the next generation unchanged. */
  elite: z.number().int().min(0).max(8).optional(),
  seed: SeedSchema.optional(),
  fitness: EvolutionFitnessRequestSchema.optional(),
  /** Default: settings.modelSet. */
  modelSet: ModelSetRefSchema.optional(),
  width: ImageSideSchema.optional(),
  height: ImageSideSchema.optional(),
  steps: z.number().int().min(1).max(150).optional(),
  scheduler: SchedulerSchema.optional(),
  guidance: z.number().min(0).max(30).optional(),
  negativePrompt: PromptSchema.optional(),
});
/** Breed the next generation from the head: from `picks` (any individuals of the session), else by the fitness. */
export const BreedEvolutionRequestSchema = z.strictObject({
  type: z.literal('breedEvolution'),
  session: SessionIdSchema,
  picks: z.array(IndividualIdSchema).max(MAX_EVOLUTION_PICKS).optional(),
});
/** Invert an individual's image (EDITOR); the recovered prompt joins the head generation. */
export const ReinvertEvolutionRequestSchema = z.strictObject({
  type: z.literal('reinvertEvolution'),
  session: SessionIdSchema,
  id: IndividualIdSchema,
});
export const OpenEvolutionRequestSchema = z.strictObject({ type: z.literal('openEvolution'), session: SessionIdSchema });
/** The words an individual's children must keep (each must occur in its prompt; [] clears). */
export const LockEvolutionRequestSchema = z.strictObject({
  type: z.literal('lockEvolution'),
  session: SessionIdSchema,
  id: IndividualIdSchema,
  words: z.array(z.string().min(1).max(200)).max(64),
});
/** Make an ancestor's generation the head again (a new branch generation whose default pick is `from`). */
export const BranchEvolutionRequestSchema = z.strictObject({
  type: z.literal('branchEvolution'),
  session: SessionIdSchema,
  from: IndividualIdSchema,
});
/**
 * Copy the session (session.json, images, thumbnails, embeddings, targets, lineage.json,
 * prompts.tsv) into `dir`, a new or empty folder on the machine running the engine; default: a new
 * folder under `exports/` next to the library folder.
 */
export const ExportEvolutionRequestSchema = z.strictObject({
  type: z.literal('exportEvolution'),
  session: SessionIdSchema,
  dir: PathSchema.optional(),
});
export const ListEvolutionsRequestSchema = z.strictObject({ type: z.literal('listEvolutions') });

export const EVOLUTION_OPERATORS = [
  'init',
  'init-image',
  'prompt-crossover',
  'embedding-crossover',
  'word-mutation',
  'gaussian-mutation',
  'reinvert',
] as const;

/** One individual: a readable genome (prompt, seed), where it came from, its fitness and images. */
export const EvolutionIndividualSchema = z.strictObject({
  id: IndividualIdSchema,
  /** The generation it was born in. */
  generation: GenerationIdSchema,
  prompt: PromptSchema,
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  parents: z.array(IndividualIdSchema).max(8),
  operator: z.enum(EVOLUTION_OPERATORS),
  /** What the operator did ("substituted "red" -> "blue"", "slerp t=0.420"). */
  detail: TextSchema.optional(),
  /** Rendered from the prompt, or from a stored embedding (the prompt is then its decoded text). */
  conditioning: z.enum(['text', 'embedding']),
  decodedDistance: z.number().optional(),
  fitness: z.number().optional(),
  /** Words its children must keep. */
  locks: z.array(z.string().min(1).max(200)).max(64),
  image: EvolutionFileSchema.optional(),
  thumbnail: EvolutionFileSchema.optional(),
  createdAt: TimestampSchema,
});
export type EvolutionIndividual = z.infer<typeof EvolutionIndividualSchema>;

export const EvolutionGenerationSchema = z.strictObject({
  id: GenerationIdSchema,
  /** The generation it was bred (or branched) from. */
  parent: GenerationIdSchema.optional(),
  kind: z.enum(['init', 'bred', 'branch']),
  /** Its individuals; elites carried over (and a branch's members) were born in earlier generations. */
  members: z.array(IndividualIdSchema).max(1024),
  /** The favourites it was bred from (absent: selected by fitness). */
  picks: z.array(IndividualIdSchema).max(MAX_EVOLUTION_PICKS).optional(),
  /** A branch: the ancestor it starts from. */
  branchedFrom: IndividualIdSchema.optional(),
  createdAt: TimestampSchema,
  /** The highest fitness among its members. */
  best: z.number().optional(),
});
export type EvolutionGeneration = z.infer<typeof EvolutionGenerationSchema>;

/** A session's fitness as stored (a clip target is an image inside the session folder). */
export const EvolutionFitnessSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('checker'), prompt: z.string().max(2000) }),
  z.strictObject({ kind: z.literal('text'), text: z.string().max(2000) }),
  z.strictObject({ kind: z.literal('clip') }),
]);

/** The whole session: settings, generations (in order) and every individual; the lineage is the individuals' `parents`. */
export const EvolutionSessionSchema = z.strictObject({
  id: SessionIdSchema,
  name: NameSchema.optional(),
  /** The model set it renders with. */
  model: ModelSetRefSchema,
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema,
  /** The generation breeding continues from. */
  head: GenerationIdSchema,
  fitness: EvolutionFitnessSchema.optional(),
  settings: z.strictObject({
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    population: z.number().int().min(2).max(256),
    elite: z.number().int().min(0).max(64),
    width: z.number().int().min(8).max(4096),
    height: z.number().int().min(8).max(4096),
    steps: z.number().int().min(1).max(1000),
    scheduler: SchedulerSchema,
    guidance: z.number().min(0).max(100),
  }),
  generations: z.array(EvolutionGenerationSchema).min(1).max(MAX_EVOLUTION_GENERATIONS),
  individuals: z.array(EvolutionIndividualSchema).min(1).max(MAX_EVOLUTION_INDIVIDUALS),
});
export type EvolutionSessionView = z.infer<typeof EvolutionSessionSchema>;

/** A session in the list, or why it cannot be opened (`problem`). */
export const EvolutionSummarySchema = z.strictObject({
  id: SessionIdSchema,
  name: NameSchema.optional(),
  model: ModelSetRefSchema.optional(),
  generations: z.number().int().min(0).optional(),
  individuals: z.number().int().min(0).optional(),
  updatedAt: TimestampSchema.optional(),
  bestFitness: z.number().optional(),
  /** The head generation's first image (the best by fitness when there is one). */
  thumbnail: EvolutionFileSchema.optional(),
  problem: TextSchema.optional(),
});
export type EvolutionSummary = z.infer<typeof EvolutionSummarySchema>;

export const ListEvolutionsResultSchema = z.strictObject({ sessions: z.array(EvolutionSummarySchema).max(MAX_EVOLUTIONS) });
export const ExportEvolutionResultSchema = z.strictObject({
  /** The folder written (absolute). */
  dir: PathSchema,
  files: z.number().int().min(0),
});

/** The result of the three evolution jobs: the session after the step, and what the step made. */
export const EvolutionJobResultSchema = z.strictObject({
  kind: z.enum(['createEvolution', 'breedEvolution', 'reinvertEvolution']),
  session: EvolutionSessionSchema,
  /** createEvolution, breedEvolution: the new head generation. */
  generation: GenerationIdSchema.optional(),
  /** reinvertEvolution: the new individual. */
  individual: IndividualIdSchema.optional(),
  seconds: z.number().min(0),
  warnings: z.array(TextSchema).max(32),
});
export type EvolutionJobResult = z.infer<typeof EvolutionJobResultSchema>;
