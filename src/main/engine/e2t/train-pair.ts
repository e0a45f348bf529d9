/**
 * Training a vec2text pair for a text encoder with the project's own trainer (training/): the
 * inverter learns text from its vector, then the corrector learns the text from its vector, a
 * hypothesis and the hypothesis' vector. Both phases teacher-force the T5 decoder and minimise
 * the token cross-entropy (vec2text's objective); both resume exactly from their checkpoints.
 *
 * The corrector's hypotheses are a mix (config.hypothesisMix): the trained inverter's greedy
 * output (what the corrector sees first at inference; vec2text trains on those only), a
 * corruption of the true text (the corpus' `corrupt`, e.g. one slot changed: a closed grammar's
 * inverter is often right, which would leave the corrector little to learn), and the true text
 * itself (so a correct hypothesis is kept).
 *
 * The result is an E2T folder (vec2text-layout.ts) written with fp16- or fp32-stored weights.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors.js';
import {
  buildTrainingGraph,
  RandomStream,
  TrainStep,
  train,
  type BatchSource,
  type LossRecord,
  type TrainProgress,
} from '../training/index.js';
import type { WeightPrecision } from '../models/demo/nn.js';
import { loadE2tTokenizer, WORD_TOKENIZER_SPECIALS, writeWordTokenizer, type E2tTokenizer } from './e2t-tokenizer.js';
import { Seq2SeqStage } from './seq2seq.js';
import type { TextEncoderLike } from './vec2text.js';
import { randomWeights, weightsFromMap, type StageKind, type Vec2TextStageDims } from './vec2text-graphs.js';
import { embedderInputDim, readEmbedding, type EmbedderSpec, type Vec2TextConfig } from './vec2text-layout.js';
import { buildStageTrainingModel } from './vec2text-training.js';
import { writeVec2TextFolder } from './vec2text-writer.js';

/** Sizes of both stages (the published pair: T5-base, 16 repeat tokens). */
export interface PairArchitecture {
  dModel: number;
  numHeads: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numRepeatTokens: number;
  /** Projection MLP width (default: the embedder vector's width, as vec2text). */
  bottleneckDim?: number;
  numBuckets: number;
  maxDistance: number;
  tieWordEmbeddings: boolean;
}

export interface PhaseConfig {
  steps: number;
  lr: number;
  warmup: number;
}

export interface PairTrainConfig {
  architecture: PairArchitecture;
  embedder: EmbedderSpec;
  /** Longest decoded sequence incl. the start token. */
  maxLength: number;
  batch: number;
  inverter: PhaseConfig;
  /** Omit for an inverter-only pair. */
  corrector?: PhaseConfig;
  /** Shares of the corrector's hypotheses (normalised). */
  hypothesisMix: { inverter: number; corrupted: number; truth: number };
  clipNorm: number;
  weightDecay: number;
  seed: number;
  precision: WeightPrecision;
}

export interface PairCorpus {
  /** A training text (never a held-out one): all randomness from `rng`. */
  sample(rng: RandomStream): string;
  /** A nearby wrong text (the corrector's corrupted hypotheses): all randomness from `rng`. */
  corrupt(text: string, rng: RandomStream): string;
  /** The decoder's vocabulary (whole words). */
  words: readonly string[];
}

export interface TrainPairOptions {
  config: PairTrainConfig;
  corpus: PairCorpus;
  /** The text encoder the pair is for (the embedder). */
  encoder: TextEncoderLike;
  /** Checkpoints and intermediate files. */
  workDir: string;
  /** The finished E2T folder. */
  outDir: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (e: TrainProgress) => void;
  /** Extra provenance for config.json's `source`. */
  source?: Record<string, unknown>;
}

export interface TrainPairResult {
  config: Vec2TextConfig;
  logs: { inverter: LossRecord[]; corrector?: LossRecord[] };
  seconds: number;
}

/** The stage sizes a config gives, for a tokenizer of `vocabSize` ids. */
export function stageDims(c: PairTrainConfig, vocabSize: number): Vec2TextStageDims {
  const a = c.architecture;
  const din = embedderInputDim(c.embedder);
  return {
    embedderDim: din,
    bottleneckDim: a.bottleneckDim ?? din,
    numRepeatTokens: a.numRepeatTokens,
    dModel: a.dModel,
    numHeads: a.numHeads,
    dKv: a.dKv,
    dFf: a.dFf,
    numLayers: a.numLayers,
    numDecoderLayers: a.numDecoderLayers,
    vocabSize,
    numBuckets: a.numBuckets,
    maxDistance: a.maxDistance,
    layerNormEpsilon: 1e-6,
    tieWordEmbeddings: a.tieWordEmbeddings,
    // The corrector's encoder reads 4 + 3R + maxLength positions.
    maxPositions: 4 + 3 * a.numRepeatTokens + c.maxLength + 8,
    sepTokenId: WORD_TOKENIZER_SPECIALS.eos,
  };
}

/** Vectors of texts as the pair reads them, cached (captions recur). */
class VectorCache {
  private readonly cache = new Map<string, Float32Array>();
  constructor(
    private readonly encoder: TextEncoderLike,
    private readonly spec: EmbedderSpec,
  ) {}
  async get(texts: string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((t) => !this.cache.has(t)))];
    if (missing.length) {
      const enc = await this.encoder.encode(missing);
      if (this.cache.size > 200_000) this.cache.clear();
      enc.forEach((e, i) =>
        this.cache.set(missing[i]!, readEmbedding(this.spec, e.embedding, this.encoder.tokens, this.encoder.dim, e.length)),
      );
    }
    return texts.map((t) => this.cache.get(t)!);
  }
}

function flat(vectors: Float32Array[]): Float32Array {
  const d = vectors[0]!.length;
  const out = new Float32Array(vectors.length * d);
  vectors.forEach((v, i) => out.set(v, i * d));
  return out;
}

const i64 = (values: number[], dims: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );

/** Teacher forcing: decoder inputs [start, y0, ...] and one-hot labels of y (EOS last), padded to T. */
function targets(tok: E2tTokenizer, texts: string[], T: number, V: number, start: number, pad: number) {
  const dec: number[] = [];
  const labels = new Float32Array(texts.length * T * V);
  texts.forEach((t, i) => {
    const y = tok.encode(t);
    if (y.length > T) throw new EngineError('INVALID_ARGUMENT', `"${t}" takes ${y.length} tokens; maxLength allows ${T}`);
    const inp = [start, ...y];
    for (let p = 0; p < T; p++) {
      dec.push(p < y.length ? inp[p]! : pad);
      if (p < y.length) labels[(i * T + p) * V + y[p]!] = 1;
    }
  });
  return { dec: i64(dec, [texts.length, T]), labels: new ort.Tensor('float32', labels, [texts.length, T, V]) };
}

function fingerprint(kind: StageKind, c: PairTrainConfig, vocab: number): string {
  return createHash('sha256').update(JSON.stringify({ kind, c, vocab })).digest('hex').slice(0, 16);
}

/**
 * Train (or resume) both phases and write the E2T folder.
 * @throws CancelledError when `signal` fires (checkpoints saved: run again to continue)
 */
export async function trainPair(o: TrainPairOptions): Promise<TrainPairResult> {
  const c = o.config;
  const t0 = performance.now();
  await mkdir(o.workDir, { recursive: true });
  const tokDir = path.join(o.workDir, 'tokenizer');
  const V = await writeWordTokenizer(tokDir, o.corpus.words);
  const tok = await loadE2tTokenizer(tokDir);
  const dims = stageDims(c, V);
  const { numRepeatTokens: R } = dims;
  const din = dims.embedderDim;
  const T = c.maxLength - 1;
  const B = c.batch;
  const start = WORD_TOKENIZER_SPECIALS.pad;
  const pad = WORD_TOKENIZER_SPECIALS.pad;
  const vectors = new VectorCache(o.encoder, c.embedder);
  const threads = o.threads ? { threads: o.threads } : {};

  const runPhase = async (kind: StageKind, phase: PhaseConfig, batches: BatchSource) => {
    const fwd = buildStageTrainingModel(kind, dims, randomWeights(c.seed + (kind === 'inverter' ? 0 : 1)));
    const shapes: Record<string, number[]> = { embedding: [B, din], decoder_input_ids: [B, T], labels: [B, T, V] };
    if (kind === 'inverter') shapes.attention_mask = [B, R];
    else
      Object.assign(shapes, {
        hypothesis_embedding: [B, din],
        hypothesis_input_ids: [B, c.maxLength],
        attention_mask: [B, 4 + 3 * R + c.maxLength],
      });
    const tg = buildTrainingGraph(fwd.model, { params: fwd.params, loss: 'loss', shapes });
    const step = await TrainStep.create(tg, threads);
    try {
      return await train({
        name: `e2t-${kind}`,
        step,
        params: tg.params,
        steps: phase.steps,
        schedule: { lr: phase.lr, warmup: phase.warmup, kind: 'cosine' },
        adam: { weightDecay: c.weightDecay },
        clipNorm: c.clipNorm,
        seed: c.seed,
        batches,
        checkpoint: { file: path.join(o.workDir, `${kind}.ckpt`) },
        fingerprint: fingerprint(kind, c, V),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      });
    } finally {
      await step.release();
    }
  };

  const inverterBatches: BatchSource = {
    async next(rng) {
      const texts = Array.from({ length: B }, () => o.corpus.sample(rng));
      const { dec, labels } = targets(tok, texts, T, V, start, pad);
      return {
        embedding: new ort.Tensor('float32', flat(await vectors.get(texts)), [B, din]),
        attention_mask: i64(new Array<number>(B * R).fill(1), [B, R]),
        decoder_input_ids: dec,
        labels,
      };
    },
  };
  const inv = await runPhase('inverter', c.inverter, inverterBatches);
  const inverterWeights = new Map(inv.params.list.map((p) => [p.name, Float32Array.from(p.values)]));
  const logs: TrainPairResult['logs'] = { inverter: inv.log };

  let correctorWeights: Map<string, Float32Array> | undefined;
  if (c.corrector) {
    // The trained inverter, written and loaded as the app will load it, writes the hypotheses.
    const invDir = path.join(o.workDir, 'inverter-stage');
    await writeVec2TextFolder({
      dir: invDir,
      embedder: c.embedder,
      words: o.corpus.words,
      inverter: { dims, weights: weightsFromMap(inverterWeights) },
      maxLength: c.maxLength,
    });
    const stage = await Seq2SeqStage.open(invDir, 'inverter', { ...dims, embedderDim: din }, threads);
    const mix = c.hypothesisMix;
    const total = mix.inverter + mix.corrupted + mix.truth;
    try {
      const correctorBatches: BatchSource = {
        async next(rng) {
          const texts = Array.from({ length: B }, () => o.corpus.sample(rng));
          const e = await vectors.get(texts);
          const kinds = texts.map(() => {
            const u = rng.uniform() * total;
            return u < mix.inverter ? 'inverter' : u < mix.inverter + mix.corrupted ? 'corrupted' : 'truth';
          });
          const hypIds: number[][] = texts.map((t, i) =>
            kinds[i] === 'truth'
              ? [start, ...tok.encode(t)]
              : kinds[i] === 'corrupted'
                ? [start, ...tok.encode(o.corpus.corrupt(t, rng))]
                : [],
          );
          const fromInverter = kinds.flatMap((k, i) => (k === 'inverter' ? [i] : []));
          if (fromInverter.length > 0) {
            const { embeds, mask } = await stage.project(flat(fromInverter.map((i) => e[i]!)), fromInverter.length);
            const gen = await stage.generate(await stage.encode(embeds, mask), {
              maxLength: c.maxLength,
              startTokenId: start,
              eosTokenId: WORD_TOKENIZER_SPECIALS.eos,
              padTokenId: pad,
            });
            fromInverter.forEach((i, k) => (hypIds[i] = gen[k]![0]!.ids));
          }
          const hypTexts = hypIds.map((ids) => tok.decode(ids));
          const h = await vectors.get(hypTexts);
          const L = c.maxLength;
          const ids: number[] = [];
          const mask: number[] = [];
          for (const row of hypIds) {
            const padded = [...row.slice(0, L), ...new Array<number>(Math.max(0, L - row.length)).fill(pad)];
            ids.push(...padded);
            mask.push(...new Array<number>(4 + 3 * R).fill(1), ...padded.map((id) => (id === pad ? 0 : 1)));
          }
          const { dec, labels } = targets(tok, texts, T, V, start, pad);
          return {
            embedding: new ort.Tensor('float32', flat(e), [B, din]),
            hypothesis_embedding: new ort.Tensor('float32', flat(h), [B, din]),
            hypothesis_input_ids: i64(ids, [B, L]),
            attention_mask: i64(mask, [B, 4 + 3 * R + L]),
            decoder_input_ids: dec,
            labels,
          };
        },
      };
      const cor = await runPhase('corrector', c.corrector, correctorBatches);
      correctorWeights = new Map(cor.params.list.map((p) => [p.name, Float32Array.from(p.values)]));
      logs.corrector = cor.log;
    } finally {
      await stage.release();
    }
  }

  const config = await writeVec2TextFolder({
    dir: o.outDir,
    embedder: c.embedder,
    words: o.corpus.words,
    inverter: { dims, weights: weightsFromMap(inverterWeights) },
    ...(correctorWeights ? { corrector: { dims, weights: weightsFromMap(correctorWeights) } } : {}),
    maxLength: c.maxLength,
    precision: c.precision,
    source: {
      trainer: 'src/main/engine/e2t/train-pair.ts',
      training: {
        config: c,
        inverter: { steps: inv.step, seconds: Math.round(inv.seconds), finalLoss: inv.log.at(-1)?.loss },
        ...(logs.corrector ? { corrector: { steps: logs.corrector.at(-1)?.step, finalLoss: logs.corrector.at(-1)?.loss } } : {}),
      },
      ...o.source,
    },
  });
  return { config, logs, seconds: (performance.now() - t0) / 1000 };
}
