/**
 * Size limits of the IPC contract. Every string and array crossing a process or network boundary is
 * bounded so a malformed or hostile message cannot make the engine allocate without limit.
 */

/** Largest image (decoded bytes) a request may carry: 50 MiB. */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;
/** Longest `data:` URL for an image of MAX_IMAGE_BYTES (base64 is 4 chars per 3 bytes, plus the header). */
export const MAX_IMAGE_DATA_URL_CHARS = Math.ceil(MAX_IMAGE_BYTES / 3) * 4 + 64;
/** Largest preview image (decoded bytes) in a progress event: 8 MiB. */
export const MAX_PREVIEW_BYTES = 8 * 1024 * 1024;
export const MAX_PREVIEW_DATA_URL_CHARS = Math.ceil(MAX_PREVIEW_BYTES / 3) * 4 + 64;
/** Largest serialized message either side accepts (an image request plus slack for the envelope). */
export const MAX_MESSAGE_CHARS = MAX_IMAGE_DATA_URL_CHARS + 256 * 1024;

/** Prompts may exceed CLIP's 77 tokens (the token counter reports what is dropped), but not without bound. */
export const MAX_PROMPT_CHARS = 4000;
export const MAX_PATH_CHARS = 4096;
export const MAX_NAME_CHARS = 256;
export const MAX_MESSAGE_TEXT_CHARS = 4000;
/** Ids (jobs, requests, library items, models): short, URL- and file-name-safe. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_LIST_ITEMS = 10_000;
/** Loss curves: one number per iteration. */
export const MAX_ITERATIONS = 10_000;
export const MAX_CANDIDATES = 256;
/**
 * Jobs waiting behind the running one. A job request beyond it is refused with QUEUE_FULL: a
 * queued job holds its request (an inversion's image, up to MAX_IMAGE_BYTES) until it runs.
 */
export const MAX_QUEUED_JOBS = 32;

/** CLIP's context: 77 token positions including BOS and EOS, so 75 for the prompt itself. */
export const CLIP_CONTEXT_LENGTH = 77;
export const CLIP_MAX_PROMPT_TOKENS = CLIP_CONTEXT_LENGTH - 2;

/** Evaluations (the `eval` job, docs/evaluation.md § Studio): items of a dataset, seeds and ablation values of a run. */
export const MAX_EVAL_ITEMS = 10_000;
export const MAX_EVAL_SEEDS = 16;
export const MAX_EVAL_ABLATION_VALUES = 16;
/** Rows of one report table (methods × ablation values × seeds) and its metric columns. */
export const MAX_EVAL_TABLE_ROWS = 512;
export const MAX_EVAL_COLUMNS = 16;
/** Figures of a report and the size of each one's SVG text (a larger figure is left out with a warning). */
export const MAX_EVAL_FIGURES = 16;
export const MAX_EVAL_FIGURE_CHARS = 256 * 1024;
/** Past evaluations listed (newest first). */
export const MAX_EVALUATIONS = 1000;

/** Fusion (docs/fusion-evolution.md § Studio): parents of one fusion (the engine's limit), a weight, columns of a grid. */
export const MAX_FUSE_PARENTS = 16;
export const MAX_FUSE_WEIGHT = 100;
export const MAX_FUSE_GRID_COLUMNS = MAX_FUSE_PARENTS + 1;
/**
 * Evolution sessions (docs/fusion-evolution.md § Studio): starting images/prompts, individuals per
 * generation, picks of one breed, and what one session view may hold (a larger session is refused
 * with a message to export it).
 */
export const MAX_EVOLUTION_INIT = 16;
export const MAX_EVOLUTION_POPULATION = 64;
export const MAX_EVOLUTION_PICKS = 256;
export const MAX_EVOLUTION_GENERATIONS = 2000;
export const MAX_EVOLUTION_INDIVIDUALS = 20_000;
/** Sessions listed (newest first). */
export const MAX_EVOLUTIONS = 1000;
