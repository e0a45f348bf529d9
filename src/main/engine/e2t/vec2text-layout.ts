/**
 * The E2T folder of a trained vec2text-style pair (inverter + optional corrector), as
 * `scripts/export-e2t.py` writes it for the published SD 1.5 checkpoints and as the shapes
 * world's pair is committed (docs/e2t.md has the full contract):
 *
 *   config.json                    the schema below (embedder width, which vector is read, sizes, generation)
 *   tokenizer.json, tokenizer_config.json   the decoder's tokenizer (Hugging Face format; T5's for the published pair)
 *   inverter/embedding_projection.onnx     embedding [B, Din] -> inputs_embeds [B, R, H]
 *   inverter/encoder_model.onnx            inputs_embeds [B, S, H], attention_mask int64 [B, S] -> last_hidden_state
 *   inverter/cross_kv.onnx                 encoder_hidden_states -> cross_key_values.{i}.{key,value} [B, heads, S, dKv]
 *   inverter/decoder_model.onnx            input_ids [B, T], encoder_attention_mask, past_key_values.{i}.* [B, heads, P, dKv],
 *                                          cross_key_values.{i}.* -> logits [B, T, V], present.{i}.* [B, heads, P+T, dKv]
 *   corrector/...                          the same four files; its projection takes embedding, hypothesis_embedding
 *                                          [B, Din] and hypothesis_input_ids [B, T] -> inputs_embeds [B, 4+3R+T, H]
 *
 * The corrector is optional (without it the inverter's hypothesis is the answer, with a warning).
 * This module validates the file layout and config.json; vec2text.ts checks the graphs' I/O.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../errors.js';

/** Files of one stage, relative to its subfolder. */
export const STAGE_FILES = ['embedding_projection.onnx', 'encoder_model.onnx', 'cross_kv.onnx', 'decoder_model.onnx'] as const;
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;
export const CONFIG_FILE = 'config.json';
export const E2T_FORMAT = 'inversion-studio-e2t';

/** Reference decoding settings (DESIGN §3: 20 correction steps, sequence beam 4). */
export const VEC2TEXT_DEFAULTS = { steps: 20, beam: 4 } as const;

const posInt = z.number().int().positive();

const stageSchema = z.object({
  /** Pseudo-tokens per projected vector (R; 16 for the published pair). */
  numRepeatTokens: posInt,
  /** T5 d_model (H). */
  dModel: posInt,
  numHeads: posInt,
  /** Per-head width. */
  dKv: posInt,
  numDecoderLayers: posInt,
  /** Rows of the decoder's output layer (T5-base: 32128). */
  vocabSize: posInt,
});

const embedderSchema = z
  .object({
    /** Width D of the text encoder's output rows the pair was trained on (SD 1.5: 768). */
    dim: posInt,
    /**
     * Which vector the models read from the [tokens, D] output: `eos` the EOS row (CLIP's pooled
     * output, what the EDITOR pair reads), `mean` the mean of rows BOS..EOS, `all` the first
     * `positions` rows concatenated.
     */
    read: z.enum(['eos', 'mean', 'all']),
    /** Rows read with `read: "all"`. */
    positions: posInt.optional(),
    /** What the embedder is, for people (e.g. "SD 1.5 CLIP ViT-L/14 text encoder, pooler_output"). */
    description: z.string().optional(),
  })
  .refine((e) => e.read !== 'all' || e.positions !== undefined, { message: 'embedder.read "all" needs embedder.positions' });

export const vec2textConfigSchema = z.object({
  format: z.literal(E2T_FORMAT),
  version: z.literal(1),
  architecture: z.literal('vec2text-t5'),
  embedder: embedderSchema,
  inverter: stageSchema,
  /** Absent for an inverter-only folder. */
  corrector: stageSchema.optional(),
  generation: z.object({
    /** Longest decoded sequence including the decoder start token (the reference: 32). */
    maxLength: posInt,
    decoderStartTokenId: z.number().int().nonnegative(),
    eosTokenId: z.number().int().nonnegative(),
    padTokenId: z.number().int().nonnegative(),
    /** Beam search's length normalisation exponent (transformers' default 1). */
    lengthPenalty: z.number().default(1),
  }),
  defaults: z
    .object({
      steps: z.number().int().nonnegative().default(VEC2TEXT_DEFAULTS.steps),
      beam: posInt.default(VEC2TEXT_DEFAULTS.beam),
    })
    .default({ steps: VEC2TEXT_DEFAULTS.steps, beam: VEC2TEXT_DEFAULTS.beam }),
  /** Provenance (checkpoints, exporter, training run); not read by the engine. */
  source: z.record(z.string(), z.unknown()).optional(),
});

export type Vec2TextConfig = z.infer<typeof vec2textConfigSchema>;
export type Vec2TextConfigInput = z.input<typeof vec2textConfigSchema>;
export type StageConfig = z.infer<typeof stageSchema>;
export type EmbedderSpec = Vec2TextConfig['embedder'];

/** Width of the vector the stages read (Din). */
export function embedderInputDim(e: EmbedderSpec): number {
  return e.read === 'all' ? e.positions! * e.dim : e.dim;
}

/**
 * The vector a pair reads from a text-encoder output `data` [tokens, dim] whose meaningful
 * positions are 0..length-1 (EOS at length-1).
 */
export function readEmbedding(e: EmbedderSpec, data: Float32Array, tokens: number, dim: number, length: number): Float32Array {
  if (dim !== e.dim) throw new EngineError('SHAPE_MISMATCH', `the E2T pair reads ${e.dim}-wide rows, this embedding is ${dim} wide`);
  if (length < 1 || length > tokens) throw new EngineError('INVALID_ARGUMENT', `embedding length ${length} is outside 1..${tokens}`);
  if (e.read === 'eos') return data.slice((length - 1) * dim, length * dim);
  if (e.read === 'mean') {
    const out = new Float32Array(dim);
    for (let p = 0; p < length; p++) for (let d = 0; d < dim; d++) out[d] = out[d]! + data[p * dim + d]!;
    for (let d = 0; d < dim; d++) out[d] = out[d]! / length;
    return out;
  }
  const rows = e.positions!;
  if (rows > tokens) throw new EngineError('SHAPE_MISMATCH', `the E2T pair reads ${rows} positions, the text encoder has ${tokens}`);
  return data.slice(0, rows * dim);
}

export interface Vec2TextFolder {
  dir: string;
  config: Vec2TextConfig;
  /** False when corrector/ is absent (inverter-only). */
  hasCorrector: boolean;
  warnings: string[];
}

function fail(dir: string, why: string): never {
  throw new EngineError(
    'MODEL_FOLDER',
    `${dir} is not a usable E2T folder: ${why}. Export the published pair with scripts/export-e2t.py (layout in docs/e2t.md), or decode with the search (--e2t search).`,
  );
}

/**
 * Validate the layout and config.json of an E2T folder.
 * @throws EngineError('MODEL_FOLDER') naming what is missing or wrong; a missing corrector is a warning
 */
export function inspectVec2TextFolder(dir: string): Vec2TextFolder {
  const file = path.join(dir, CONFIG_FILE);
  if (!existsSync(file)) fail(dir, 'no config.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(dir, `config.json is not JSON (${(e as Error).message})`);
  }
  if ((json as { format?: unknown })?.format !== E2T_FORMAT)
    fail(dir, `config.json is not an Inversion Studio E2T config (expected "format": "${E2T_FORMAT}")`);
  const parsed = vec2textConfigSchema.safeParse(json);
  if (!parsed.success) fail(dir, `config.json is invalid:\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;

  const missing = [...TOKENIZER_FILES, ...STAGE_FILES.map((f) => `inverter/${f}`)].filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length > 0) fail(dir, `missing ${missing.join(', ')}`);

  const warnings: string[] = [];
  const corrector = STAGE_FILES.map((f) => `corrector/${f}`);
  const present = corrector.filter((f) => existsSync(path.join(dir, f)));
  let hasCorrector = false;
  if (present.length === 0) {
    warnings.push(
      `${dir} has no corrector: the inverter's first hypothesis is the answer (no correction steps), which is usually less exact. Export the corrector too (scripts/export-e2t.py --corrector ...).`,
    );
  } else if (present.length < corrector.length) {
    fail(dir, `the corrector is incomplete: missing ${corrector.filter((f) => !present.includes(f)).join(', ')}`);
  } else if (!config.corrector) {
    fail(dir, 'corrector/ exists but config.json has no "corrector" section');
  } else {
    hasCorrector = true;
  }
  return { dir, config, hasCorrector, warnings };
}
