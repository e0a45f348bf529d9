/**
 * Write an E2T folder (vec2text-layout.ts) from our own graph builders: the shapes world's
 * trained pair is committed this way, and the tests write tiny random pairs of the published
 * architecture to exercise the loader and generation.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeModel } from '../onnx/model-io.js';
import type { WeightPrecision } from '../models/demo/nn.js';
import { WORD_TOKENIZER_SPECIALS, writeWordTokenizer } from './e2t-tokenizer.js';
import { buildStageGraphs, type StageKind, type Vec2TextStageDims, type WeightSource } from './vec2text-graphs.js';
import {
  CONFIG_FILE,
  E2T_FORMAT,
  embedderInputDim,
  vec2textConfigSchema,
  type EmbedderSpec,
  type Vec2TextConfig,
  type Vec2TextConfigInput,
} from './vec2text-layout.js';

export interface StageSpec {
  dims: Vec2TextStageDims;
  weights: WeightSource;
}

export interface WriteVec2TextOptions {
  dir: string;
  embedder: EmbedderSpec;
  /** Whole words of the decoder's tokenizer (written as a T5-format word tokenizer). */
  words: readonly string[];
  inverter: StageSpec;
  /** Omit for an inverter-only folder. */
  corrector?: StageSpec;
  /** Longest decoded sequence incl. the start token. */
  maxLength: number;
  precision?: WeightPrecision;
  defaults?: { steps?: number; beam?: number };
  source?: Record<string, unknown>;
}

async function writeStage(dir: string, kind: StageKind, spec: StageSpec, precision?: WeightPrecision): Promise<void> {
  const g = buildStageGraphs(kind, spec.dims, spec.weights, precision ? { precision } : {});
  await mkdir(path.join(dir, kind), { recursive: true });
  await writeModel(g.projection, path.join(dir, kind, 'embedding_projection.onnx'));
  await writeModel(g.encoder, path.join(dir, kind, 'encoder_model.onnx'));
  await writeModel(g.crossKv, path.join(dir, kind, 'cross_kv.onnx'));
  await writeModel(g.decoder, path.join(dir, kind, 'decoder_model.onnx'));
}

function stageConfig(d: Vec2TextStageDims) {
  return {
    numRepeatTokens: d.numRepeatTokens,
    dModel: d.dModel,
    numHeads: d.numHeads,
    dKv: d.dKv,
    numDecoderLayers: d.numDecoderLayers,
    vocabSize: d.vocabSize,
  };
}

/** Write config.json, the tokenizer and the stages' graphs; returns the config written. */
export async function writeVec2TextFolder(o: WriteVec2TextOptions): Promise<Vec2TextConfig> {
  const din = embedderInputDim(o.embedder);
  for (const [kind, s] of [
    ['inverter', o.inverter],
    ['corrector', o.corrector],
  ] as const) {
    if (s && s.dims.embedderDim !== din)
      throw new Error(`${kind} reads ${s.dims.embedderDim}-wide vectors, the embedder spec gives ${din}`);
  }
  await mkdir(o.dir, { recursive: true });
  const ids = await writeWordTokenizer(o.dir, o.words);
  for (const [kind, s] of [
    ['inverter', o.inverter],
    ['corrector', o.corrector],
  ] as const) {
    if (s && s.dims.vocabSize < ids) throw new Error(`${kind} vocabulary (${s.dims.vocabSize}) does not cover the tokenizer's ${ids} ids`);
  }
  await writeStage(o.dir, 'inverter', o.inverter, o.precision);
  if (o.corrector) await writeStage(o.dir, 'corrector', o.corrector, o.precision);
  const input: Vec2TextConfigInput = {
    format: E2T_FORMAT,
    version: 1,
    architecture: 'vec2text-t5',
    embedder: o.embedder,
    inverter: stageConfig(o.inverter.dims),
    ...(o.corrector ? { corrector: stageConfig(o.corrector.dims) } : {}),
    generation: {
      maxLength: o.maxLength,
      decoderStartTokenId: WORD_TOKENIZER_SPECIALS.pad,
      eosTokenId: WORD_TOKENIZER_SPECIALS.eos,
      padTokenId: WORD_TOKENIZER_SPECIALS.pad,
      lengthPenalty: 1,
    },
    defaults: { steps: o.defaults?.steps ?? 20, beam: o.defaults?.beam ?? 4 },
    source: {
      writer: 'inversion-studio vec2text-writer',
      architecture: { inverter: o.inverter.dims, ...(o.corrector ? { corrector: o.corrector.dims } : {}) },
      ...o.source,
    },
  };
  const config = vec2textConfigSchema.parse(input);
  await writeFile(path.join(o.dir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
  return config;
}
