/**
 * The ONNX graphs of a vec2text-style stage (inverter or corrector) built with our own graph
 * builder: the embedding projection, the T5 encoder, the decoder's cross-attention keys/values
 * and the T5 decoder with a self-attention cache. Same I/O contract as the files
 * `scripts/export-e2t.py` writes from the published PyTorch checkpoints (docs/e2t.md), so the
 * loader, generation and the corrector loop are tested here on models of the same
 * architecture, and the shapes world's pair is trained and exported from these builders.
 *
 * The building blocks take and return value names inside one graph, so a training graph
 * (projection -> encoder -> decoder with teacher forcing -> loss) is composed from the same
 * functions under the same parameter names.
 *
 * T5 (v1.0, as transformers implements it): RMS layer norm without bias (eps 1e-6), attention
 * without 1/sqrt(d) scaling, a learned relative-position bias in the first layer of each stack
 * (bucketed: bidirectional in the encoder, causal in the decoder) shared by all layers, ReLU
 * feed-forward, no embedding scaling, and with tied embeddings the decoder output scaled by
 * d_model^-0.5 before the LM head.
 *
 * Parameters are named like the transformers state dict (`encoder.block.0.layer.0.SelfAttention.q.weight`),
 * but matrices are stored [in, out] (MatMul layout), as the exporters write them.
 */
import { DataType } from '../onnx/dtype.js';
import type { Model } from '../onnx/ir.js';
import { Net, type WeightPrecision } from '../models/demo/nn.js';
import { normals } from '../models/demo/prng.js';

/** Sizes of one T5 encoder-decoder plus its vec2text projection. */
export interface Vec2TextStageDims {
  /** Width of the vector the stage reads (D, or positions * D when all positions are read). */
  embedderDim: number;
  /** Hidden width of the projection MLP (vec2text: = embedderDim). */
  bottleneckDim: number;
  /** Pseudo-tokens per projected vector (16 for the published pair). */
  numRepeatTokens: number;
  /** T5 d_model. */
  dModel: number;
  numHeads: number;
  /** Per-head width (T5's d_kv). */
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  vocabSize: number;
  numBuckets: number;
  maxDistance: number;
  layerNormEpsilon: number;
  tieWordEmbeddings: boolean;
  /** Longest sequence (encoder input or decoder prefix) the relative-position tables cover. */
  maxPositions: number;
  /** The corrector's separator token (vec2text uses T5's EOS). */
  sepTokenId: number;
}

/** How a weight is initialised when a source makes it up. */
export type WeightInit = { std: number } | { fill: number };

/** Values of a named parameter (row-major, `dims`). */
export type WeightSource = (name: string, dims: number[], init: WeightInit) => ArrayLike<number>;

/** Seeded random weights (each tensor its own stream, keyed by name): the tests' tiny models and the training start. */
export function randomWeights(seed: number): WeightSource {
  return (name, dims, init) => {
    const count = dims.reduce((a, b) => a * b, 1);
    if ('fill' in init) return new Float32Array(count).fill(init.fill);
    return normals(seed, name, count, init.std);
  };
}

/** Weights from a name -> values map (trained parameters); a missing or mis-sized name throws. */
export function weightsFromMap(values: ReadonlyMap<string, ArrayLike<number>>): WeightSource {
  return (name, dims) => {
    const v = values.get(name);
    const count = dims.reduce((a, b) => a * b, 1);
    if (!v) throw new Error(`no values for parameter ${name}`);
    if (v.length !== count) throw new Error(`parameter ${name} has ${v.length} values, expected ${count} ([${dims.join(', ')}])`);
    return v;
  };
}

/** Large negative logit for masked attention positions (finite, so fp16 and gradients stay finite). */
const MASKED = -1e9;

/**
 * T5's relative-position bucket of `rel` = key position - query position, with the float32
 * arithmetic of transformers' implementation (log, scale, truncation toward zero).
 */
export function relativePositionBucket(rel: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let ret = 0;
  let n = numBuckets;
  let r: number;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) ret += n;
    r = Math.abs(rel);
  } else {
    r = Math.max(-rel, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (r < maxExact) return ret + r;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(r / maxExact))) / f(Math.log(maxDistance / maxExact))) * (n - maxExact));
  return ret + Math.min(maxExact + Math.trunc(scaled), n - 1);
}

/** Graph-building context: one Net, the stage's sizes, the weight source, per-graph caches. */
export class StageBuilder {
  readonly net: Net;
  private readonly params = new Map<string, string>();
  private readonly constants = new Map<string, string>();

  constructor(
    readonly dims: Vec2TextStageDims,
    private readonly weights: WeightSource,
    opts: { precision?: WeightPrecision; graphName?: string; opset?: number } = {},
  ) {
    this.net = new Net(0, opts.precision ?? 'float32', opts.opset ?? 17, opts.graphName ?? 'vec2text');
  }

  get b() {
    return this.net.b;
  }

  /** A parameter's (float32) value name; added once per graph. */
  param(name: string, dims: number[], init: WeightInit): string {
    const have = this.params.get(name);
    if (have) return have;
    const v = this.net.param(name, dims, this.weights(name, dims, init));
    this.params.set(name, v);
    return v;
  }

  /** Names of the parameters this graph holds, in creation order. */
  paramNames(): string[] {
    return [...this.params.keys()];
  }

  private cachedConst(key: string, make: () => string): string {
    const have = this.constants.get(key);
    if (have) return have;
    const v = make();
    this.constants.set(key, v);
    return v;
  }

  op(type: string, inputs: string[], attrs: Parameters<Net['op']>[2] = {}, scope = ''): string {
    return this.net.op(type, inputs, attrs, scope);
  }

  /** x [.., inF] W [inF, outF] (+ b). */
  linear(x: string, path: string, inF: number, outF: number, bias: boolean, std: number): string {
    const w = this.param(`${path}.weight`, [inF, outF], { std });
    let y = this.op('MatMul', [x, w], {}, path);
    if (bias) y = this.op('Add', [y, this.param(`${path}.bias`, [outF], { fill: 0 })], {}, path);
    return y;
  }

  /** T5LayerNorm: x / sqrt(mean(x^2) + eps) * w (no mean subtraction, no bias). */
  rmsNorm(x: string, path: string): string {
    const { dModel, layerNormEpsilon } = this.dims;
    const ms = this.b.reduce('ReduceMean', this.op('Mul', [x, x], {}, path), [-1], true);
    const eps = this.cachedConst('eps', () => this.net.scalar(layerNormEpsilon, 'ln_eps'));
    const y = this.op('Div', [x, this.op('Sqrt', [this.op('Add', [ms, eps], {}, path)], {}, path)], {}, path);
    return this.op('Mul', [y, this.param(`${path}.weight`, [dModel], { fill: 1 })], {}, path);
  }

  /** [B, T, heads * dKv] -> [B, heads, T, dKv]. */
  splitHeads(x: string, scope: string): string {
    const { numHeads, dKv } = this.dims;
    const shape = this.cachedConst('heads_shape', () => this.b.int64s([0, 0, numHeads, dKv], 'heads_shape'));
    return this.op('Transpose', [this.op('Reshape', [x, shape], {}, scope)], { perm: [0, 2, 1, 3] }, scope);
  }

  /** softmax(q k^T + bias) v, heads merged back: [B, Tq, heads * dKv]. T5 does not scale the scores. */
  attend(q: string, k: string, v: string, bias: string[], scope: string): string {
    const { numHeads, dKv } = this.dims;
    let s = this.op('MatMul', [q, this.op('Transpose', [k], { perm: [0, 1, 3, 2] }, scope)], {}, scope);
    for (const bi of bias) s = this.op('Add', [s, bi], {}, scope);
    const p = this.op('Softmax', [s], { axis: -1 }, scope);
    const o = this.op('Transpose', [this.op('MatMul', [p, v], {}, scope)], { perm: [0, 2, 1, 3] }, scope);
    const merge = this.cachedConst('merge_shape', () => this.b.int64s([0, 0, numHeads * dKv], 'merge_shape'));
    return this.op('Reshape', [o, merge], {}, scope);
  }

  /** Scalar int64 of dimension `axis` of `x`. */
  dimOf(x: string, axis: number, scope: string): string {
    const idx = this.b.scalar(axis, DataType.INT64, 'axis');
    return this.op('Gather', [this.op('Shape', [x], {}, scope), idx], { axis: 0 }, scope);
  }

  /** Int64 range [start, limit). */
  range(start: string, limit: string, scope: string): string {
    const one = this.cachedConst('one_i64', () => this.b.scalar(1, DataType.INT64, 'one_i64'));
    return this.op('Range', [start, limit, one], {}, scope);
  }

  zeroI64(): string {
    return this.cachedConst('zero_i64', () => this.b.scalar(0, DataType.INT64, 'zero_i64'));
  }

  /**
   * Relative-position bias [1, heads, Tq, Tk] for query positions `qPos` [Tq] and key positions
   * `kPos` [Tk] (int64), from the first layer's bias table; plus -inf above the diagonal when causal.
   */
  positionBias(stack: 'encoder' | 'decoder', qPos: string, kPos: string): string[] {
    const { numBuckets, maxDistance, maxPositions, numHeads } = this.dims;
    const scope = `${stack}.block.0.layer.0.SelfAttention`;
    const bidirectional = stack === 'encoder';
    const table = this.cachedConst(`buckets_${stack}`, () => {
      const values: number[] = [];
      for (let rel = -(maxPositions - 1); rel <= maxPositions - 1; rel++)
        values.push(relativePositionBucket(rel, bidirectional, numBuckets, maxDistance));
      return this.b.initializer(`${stack}_position_buckets`, DataType.INT64, [values.length], values);
    });
    const rel = this.op('Sub', [this.b.unsqueeze(kPos, [0]), this.b.unsqueeze(qPos, [1])], {}, scope);
    const offset = this.b.scalar(maxPositions - 1, DataType.INT64, 'bucket_offset');
    const buckets = this.op('Gather', [table, this.op('Add', [rel, offset], {}, scope)], { axis: 0 }, scope);
    const w = this.param(`${scope}.relative_attention_bias.weight`, [numBuckets, numHeads], { std: this.dims.dModel ** -0.5 });
    const vals = this.op('Gather', [w, buckets], { axis: 0 }, scope);
    const bias = this.b.unsqueeze(this.op('Transpose', [vals], { perm: [2, 0, 1] }, scope), [0]);
    if (bidirectional) return [bias];
    const future = this.op('Greater', [rel, this.zeroI64()], {}, scope);
    const causal = this.op('Where', [future, this.net.scalar(MASKED, 'masked'), this.net.scalar(0, 'unmasked')], {}, scope);
    return [bias, causal];
  }

  /** int64 [B, S] mask (1 = attend) -> additive float [B, 1, 1, S]. */
  paddingBias(mask: string, scope: string): string {
    const m = this.op('Cast', [mask], { to: DataType.FLOAT }, scope);
    const inv = this.op('Sub', [this.net.scalar(1, 'one'), m], {}, scope);
    return this.b.unsqueeze(this.op('Mul', [inv, this.net.scalar(MASKED, 'masked')], {}, scope), [1, 2]);
  }

  /** Rows of the shared token embedding [V, dModel]. */
  shared(): string {
    const { vocabSize, dModel } = this.dims;
    return this.param('shared.weight', [vocabSize, dModel], { std: 1 });
  }

  /** vec2text's embedding transform: Linear(Din, bn), GELU, Linear(bn, dModel * R), as [B, R, dModel]. */
  projectionMlp(x: string, path: string): string {
    const { embedderDim, bottleneckDim, dModel, numRepeatTokens } = this.dims;
    const h = this.net.gelu(this.linear(x, `${path}.0`, embedderDim, bottleneckDim, true, embedderDim ** -0.5), `${path}.2`);
    const y = this.linear(h, `${path}.3`, bottleneckDim, dModel * numRepeatTokens, true, bottleneckDim ** -0.5);
    return this.op('Reshape', [y, this.b.int64s([0, numRepeatTokens, dModel], 'repeat_shape')], {}, path);
  }

  feedForward(x: string, path: string): string {
    const { dModel, dFf } = this.dims;
    const n = this.rmsNorm(x, `${path}.layer_norm`);
    const h = this.op('Relu', [this.linear(n, `${path}.DenseReluDense.wi`, dModel, dFf, false, dModel ** -0.5)], {}, path);
    return this.op('Add', [x, this.linear(h, `${path}.DenseReluDense.wo`, dFf, dModel, false, dFf ** -0.5)], {}, path);
  }

  /** q, k, v projections of one attention layer ([B, heads, T, dKv] each). */
  qkv(xq: string, xkv: string | undefined, path: string): { q: string; k?: string; v?: string } {
    const { dModel, numHeads, dKv } = this.dims;
    const inner = numHeads * dKv;
    const q = this.splitHeads(this.linear(xq, `${path}.q`, dModel, inner, false, (dModel * dKv) ** -0.5), path);
    if (!xkv) return { q };
    const k = this.splitHeads(this.linear(xkv, `${path}.k`, dModel, inner, false, dModel ** -0.5), path);
    const v = this.splitHeads(this.linear(xkv, `${path}.v`, dModel, inner, false, dModel ** -0.5), path);
    return { q, k, v };
  }

  out(x: string, path: string): string {
    const { dModel, numHeads, dKv } = this.dims;
    return this.linear(x, `${path}.o`, numHeads * dKv, dModel, false, (numHeads * dKv) ** -0.5);
  }

  /** T5 encoder stack over `inputsEmbeds` [B, S, dModel] with the int64 mask [B, S] -> last_hidden_state. */
  encoderStack(inputsEmbeds: string, attentionMask: string): string {
    const scope = 'encoder';
    const pos = this.range(this.zeroI64(), this.dimOf(inputsEmbeds, 1, scope), scope);
    const bias = [...this.positionBias('encoder', pos, pos), this.paddingBias(attentionMask, scope)];
    let x = inputsEmbeds;
    for (let l = 0; l < this.dims.numLayers; l++) {
      const p = `encoder.block.${l}.layer`;
      const n = this.rmsNorm(x, `${p}.0.layer_norm`);
      const { q, k, v } = this.qkv(n, n, `${p}.0.SelfAttention`);
      x = this.op('Add', [x, this.out(this.attend(q, k!, v!, bias, `${p}.0.SelfAttention`), `${p}.0.SelfAttention`)], {}, p);
      x = this.feedForward(x, `${p}.1`);
    }
    return this.rmsNorm(x, 'encoder.final_layer_norm');
  }

  /** Cross-attention keys and values of every decoder layer from the encoder output. */
  crossKv(encoderHidden: string): { key: string; value: string }[] {
    const { dModel, numHeads, dKv } = this.dims;
    const out: { key: string; value: string }[] = [];
    for (let l = 0; l < this.dims.numDecoderLayers; l++) {
      const p = `decoder.block.${l}.layer.1.EncDecAttention`;
      const key = this.splitHeads(this.linear(encoderHidden, `${p}.k`, dModel, numHeads * dKv, false, dModel ** -0.5), p);
      const value = this.splitHeads(this.linear(encoderHidden, `${p}.v`, dModel, numHeads * dKv, false, dModel ** -0.5), p);
      out.push({ key, value });
    }
    return out;
  }

  /**
   * T5 decoder over `inputIds` [B, T] at positions P..P+T-1, P = the cached length (0 without
   * `past`). Returns logits [B, T, V] and each layer's self-attention keys/values [B, heads, P+T, dKv].
   */
  decoderStack(
    inputIds: string,
    encoderMask: string,
    cross: { key: string; value: string }[],
    past?: { key: string; value: string }[],
  ): { logits: string; present: { key: string; value: string }[] } {
    const scope = 'decoder';
    const t = this.dimOf(inputIds, 1, scope);
    const p = past ? this.dimOf(past[0]!.key, 2, scope) : this.zeroI64();
    const total = past ? this.op('Add', [p, t], {}, scope) : t;
    const qPos = this.range(p, total, scope);
    const kPos = this.range(this.zeroI64(), total, scope);
    const selfBias = this.positionBias('decoder', qPos, kPos);
    const crossBias = [this.paddingBias(encoderMask, `${scope}.cross`)];
    let x = this.op('Gather', [this.shared(), inputIds], { axis: 0 }, 'decoder.embed_tokens');
    const present: { key: string; value: string }[] = [];
    for (let l = 0; l < this.dims.numDecoderLayers; l++) {
      const pre = `decoder.block.${l}.layer`;
      const n0 = this.rmsNorm(x, `${pre}.0.layer_norm`);
      const sa = this.qkv(n0, n0, `${pre}.0.SelfAttention`);
      let k = sa.k!;
      let v = sa.v!;
      if (past) {
        k = this.op('Concat', [past[l]!.key, k], { axis: 2 }, `${pre}.0.SelfAttention`);
        v = this.op('Concat', [past[l]!.value, v], { axis: 2 }, `${pre}.0.SelfAttention`);
      }
      present.push({ key: k, value: v });
      x = this.op('Add', [x, this.out(this.attend(sa.q, k, v, selfBias, `${pre}.0.SelfAttention`), `${pre}.0.SelfAttention`)], {}, pre);
      const n1 = this.rmsNorm(x, `${pre}.1.layer_norm`);
      const ca = this.qkv(n1, undefined, `${pre}.1.EncDecAttention`);
      const c = cross[l]!;
      x = this.op(
        'Add',
        [x, this.out(this.attend(ca.q, c.key, c.value, crossBias, `${pre}.1.EncDecAttention`), `${pre}.1.EncDecAttention`)],
        {},
        pre,
      );
      x = this.feedForward(x, `${pre}.2`);
    }
    let y = this.rmsNorm(x, 'decoder.final_layer_norm');
    const { dModel, vocabSize } = this.dims;
    let head: string;
    if (this.dims.tieWordEmbeddings) {
      y = this.op('Mul', [y, this.net.scalar(dModel ** -0.5, 'tie_scale')], {}, 'lm_head');
      head = this.op('Transpose', [this.shared()], { perm: [1, 0] }, 'lm_head');
    } else {
      head = this.param('lm_head.weight', [dModel, vocabSize], { std: dModel ** -0.5 });
    }
    return { logits: this.op('MatMul', [y, head], {}, 'lm_head'), present };
  }

  /** vec2text's corrector input: LayerNorm([sep, T1(e), sep, T3(h), sep, T2(e - h), sep, embed(ids)]). */
  correctorInput(embedding: string, hypothesisEmbedding: string, hypothesisIds: string): string {
    const { dModel, sepTokenId } = this.dims;
    const diff = this.op('Sub', [embedding, hypothesisEmbedding], {}, 'corrector');
    const t1 = this.projectionMlp(embedding, 'embedding_transform_1');
    const t2 = this.projectionMlp(diff, 'embedding_transform_2');
    const t3 = this.projectionMlp(hypothesisEmbedding, 'embedding_transform_3');
    const tokens = this.op('Gather', [this.shared(), hypothesisIds], { axis: 0 }, 'corrector.embed_tokens');
    // One separator row per batch item: the shared embedding of sep, broadcast over the batch.
    const sepRow = this.op('Gather', [this.shared(), this.b.int64s([sepTokenId], 'sep_id')], { axis: 0 }, 'corrector');
    const batch = this.b.unsqueeze(this.dimOf(embedding, 0, 'corrector'), [0]);
    const sepShape = this.op('Concat', [batch, this.b.int64s([1, dModel], 'sep_tail')], { axis: 0 }, 'corrector');
    const sep = this.op('Expand', [this.b.unsqueeze(sepRow, [0]), sepShape], {}, 'corrector');
    const seq = this.op('Concat', [sep, t1, sep, t3, sep, t2, sep, tokens], { axis: 1 }, 'corrector');
    const g = this.param('layernorm.weight', [dModel], { fill: 1 });
    const beta = this.param('layernorm.bias', [dModel], { fill: 0 });
    return this.op('LayerNormalization', [seq, g, beta], { axis: -1, epsilon: { kind: 'float', value: 1e-5 } }, 'layernorm');
  }
}

/** Graph input/output names of the E2T layout (docs/e2t.md). */
export const IO = {
  embedding: 'embedding',
  hypothesisEmbedding: 'hypothesis_embedding',
  hypothesisIds: 'hypothesis_input_ids',
  inputsEmbeds: 'inputs_embeds',
  attentionMask: 'attention_mask',
  lastHiddenState: 'last_hidden_state',
  encoderHiddenStates: 'encoder_hidden_states',
  inputIds: 'input_ids',
  encoderAttentionMask: 'encoder_attention_mask',
  logits: 'logits',
  pastKey: (l: number) => `past_key_values.${l}.key`,
  pastValue: (l: number) => `past_key_values.${l}.value`,
  presentKey: (l: number) => `present.${l}.key`,
  presentValue: (l: number) => `present.${l}.value`,
  crossKey: (l: number) => `cross_key_values.${l}.key`,
  crossValue: (l: number) => `cross_key_values.${l}.value`,
} as const;

export type StageKind = 'inverter' | 'corrector';

export interface StageGraphs {
  projection: Model;
  encoder: Model;
  crossKv: Model;
  decoder: Model;
}

export interface BuildStageOptions {
  /** 'float16' stores weights as half (Cast to float at run time): the committed shapes pair. */
  precision?: WeightPrecision;
}

/** The four graphs of one stage, in the E2T layout's I/O contract. */
export function buildStageGraphs(
  kind: StageKind,
  dims: Vec2TextStageDims,
  weights: WeightSource,
  opts: BuildStageOptions = {},
): StageGraphs {
  const mk = (name: string) =>
    new StageBuilder(dims, weights, { graphName: `${kind}_${name}`, ...(opts.precision ? { precision: opts.precision } : {}) });
  const { dModel, numHeads, dKv, vocabSize, embedderDim, numRepeatTokens } = dims;

  const proj = mk('embedding_projection');
  const e = proj.b.addInput(IO.embedding, DataType.FLOAT, ['batch', embedderDim]);
  let embeds: string;
  let seqDim: number | string = numRepeatTokens;
  if (kind === 'inverter') {
    embeds = proj.projectionMlp(e, 'embedding_transform');
  } else {
    const h = proj.b.addInput(IO.hypothesisEmbedding, DataType.FLOAT, ['batch', embedderDim]);
    const ids = proj.b.addInput(IO.hypothesisIds, DataType.INT64, ['batch', 'hypothesis_length']);
    embeds = proj.correctorInput(e, h, ids);
    seqDim = 'encoder_sequence_length';
  }
  proj.b.identity(embeds, IO.inputsEmbeds);
  proj.b.addOutput(IO.inputsEmbeds, DataType.FLOAT, ['batch', seqDim, dModel]);

  const enc = mk('encoder_model');
  const x = enc.b.addInput(IO.inputsEmbeds, DataType.FLOAT, ['batch', 'encoder_sequence_length', dModel]);
  const mask = enc.b.addInput(IO.attentionMask, DataType.INT64, ['batch', 'encoder_sequence_length']);
  enc.b.identity(enc.encoderStack(x, mask), IO.lastHiddenState);
  enc.b.addOutput(IO.lastHiddenState, DataType.FLOAT, ['batch', 'encoder_sequence_length', dModel]);

  const ckv = mk('cross_kv');
  const hs = ckv.b.addInput(IO.encoderHiddenStates, DataType.FLOAT, ['batch', 'encoder_sequence_length', dModel]);
  ckv.crossKv(hs).forEach((c, l) => {
    ckv.b.identity(c.key, IO.crossKey(l));
    ckv.b.identity(c.value, IO.crossValue(l));
    ckv.b.addOutput(IO.crossKey(l), DataType.FLOAT, ['batch', numHeads, 'encoder_sequence_length', dKv]);
    ckv.b.addOutput(IO.crossValue(l), DataType.FLOAT, ['batch', numHeads, 'encoder_sequence_length', dKv]);
  });

  const dec = mk('decoder_model');
  const ids = dec.b.addInput(IO.inputIds, DataType.INT64, ['batch', 'decoder_sequence_length']);
  const encMask = dec.b.addInput(IO.encoderAttentionMask, DataType.INT64, ['batch', 'encoder_sequence_length']);
  const past: { key: string; value: string }[] = [];
  const cross: { key: string; value: string }[] = [];
  for (let l = 0; l < dims.numDecoderLayers; l++) {
    past.push({
      key: dec.b.addInput(IO.pastKey(l), DataType.FLOAT, ['batch', numHeads, 'past_sequence_length', dKv]),
      value: dec.b.addInput(IO.pastValue(l), DataType.FLOAT, ['batch', numHeads, 'past_sequence_length', dKv]),
    });
  }
  for (let l = 0; l < dims.numDecoderLayers; l++) {
    cross.push({
      key: dec.b.addInput(IO.crossKey(l), DataType.FLOAT, ['batch', numHeads, 'encoder_sequence_length', dKv]),
      value: dec.b.addInput(IO.crossValue(l), DataType.FLOAT, ['batch', numHeads, 'encoder_sequence_length', dKv]),
    });
  }
  const out = dec.decoderStack(ids, encMask, cross, past);
  dec.b.identity(out.logits, IO.logits);
  dec.b.addOutput(IO.logits, DataType.FLOAT, ['batch', 'decoder_sequence_length', vocabSize]);
  out.present.forEach((p, l) => {
    dec.b.identity(p.key, IO.presentKey(l));
    dec.b.identity(p.value, IO.presentValue(l));
    dec.b.addOutput(IO.presentKey(l), DataType.FLOAT, ['batch', numHeads, 'total_sequence_length', dKv]);
    dec.b.addOutput(IO.presentValue(l), DataType.FLOAT, ['batch', numHeads, 'total_sequence_length', dKv]);
  });

  for (const s of [proj, enc, ckv, dec]) s.net.model.producerName = 'inversion-studio-e2t';
  return { projection: proj.net.model, encoder: enc.net.model, crossKv: ckv.net.model, decoder: dec.net.model };
}
