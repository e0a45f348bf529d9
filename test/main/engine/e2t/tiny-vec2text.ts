/**
 * Tiny vec2text pairs of the published architecture (T5 encoder-decoder with relative position
 * buckets, 16 -> 4 repeat tokens, corrector input [sep, T1, sep, T3, sep, T2, sep, tokens]) with
 * random weights, written in the E2T folder layout for the loader and generation tests.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomWeights, type Vec2TextStageDims } from '../../../../src/main/engine/e2t/vec2text-graphs.js';
import { writeVec2TextFolder, type WriteVec2TextOptions } from '../../../../src/main/engine/e2t/vec2text-writer.js';
import type { EmbedderSpec } from '../../../../src/main/engine/e2t/vec2text-layout.js';

/** The words of the tiny tokenizer (ids 3..). */
export const TINY_WORDS = ['a', 'red', 'blue', 'green', 'cat', 'dog', 'on', 'the', 'sofa', 'grass', 'big', 'small'];

export function tinyDims(embedderDim: number, overrides: Partial<Vec2TextStageDims> = {}): Vec2TextStageDims {
  return {
    embedderDim,
    bottleneckDim: embedderDim,
    numRepeatTokens: 4,
    dModel: 16,
    numHeads: 2,
    dKv: 8,
    dFf: 32,
    numLayers: 2,
    numDecoderLayers: 2,
    vocabSize: 3 + TINY_WORDS.length + 1,
    numBuckets: 8,
    maxDistance: 16,
    layerNormEpsilon: 1e-6,
    tieWordEmbeddings: false,
    maxPositions: 64,
    sepTokenId: 1,
    ...overrides,
  };
}

export const TINY_EMBEDDER: EmbedderSpec = { dim: 8, read: 'eos' };

export async function tempDir(prefix = 'e2t-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Write a tiny pair (both stages unless `corrector: false`) into a new temp folder. */
export async function writeTinyPair(
  o: {
    corrector?: boolean;
    seed?: number;
    embedder?: EmbedderSpec;
    maxLength?: number;
    dims?: Partial<Vec2TextStageDims>;
    words?: string[];
  } = {},
): Promise<{ dir: string; options: WriteVec2TextOptions }> {
  const dir = await tempDir();
  const embedder = o.embedder ?? TINY_EMBEDDER;
  const din = embedder.read === 'all' ? embedder.positions! * embedder.dim : embedder.dim;
  const seed = o.seed ?? 7;
  const options: WriteVec2TextOptions = {
    dir,
    embedder,
    words: o.words ?? TINY_WORDS,
    inverter: { dims: tinyDims(din, o.dims), weights: randomWeights(seed) },
    ...(o.corrector === false ? {} : { corrector: { dims: tinyDims(din, o.dims), weights: randomWeights(seed + 1) } }),
    maxLength: o.maxLength ?? 8,
  };
  await writeVec2TextFolder(options);
  return { dir, options };
}
