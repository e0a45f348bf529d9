/**
 * One stage (inverter or corrector) of an E2T pair on onnxruntime: the four sessions of the
 * folder layout (vec2text-layout.ts), their I/O contract checked at load, and text generation
 * from the encoder output: greedy and beam search, with the decoder's self-attention keys and
 * values cached between steps (the cross-attention keys/values are computed once per source).
 *
 * `cache: false` recomputes the whole prefix at every step instead (the same decoder graph with
 * an empty cache): the reference the cached generation is tested against.
 *
 * Beam search follows transformers' `generate(num_beams=W)` with early_stopping=False: each step
 * keeps the 2W best (beam, token) extensions, an EOS among the first W finishes a hypothesis
 * (score = sum of log-probs / generated length ^ length_penalty), the rest continue up to W
 * beams; a source is done when its W finished hypotheses all score at least what its best live
 * beam could still reach, or at maxLength (live beams then count as hypotheses).
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CancelledError, EngineError } from '../errors.js';
import { createSession, type CreateSessionOptions, type Session, type TensorInfo } from '../runtime/session.js';
import { floatTensor, tensorToFloat32, type FloatType } from '../runtime/tensors.js';
import { IO, type StageKind } from './vec2text-graphs.js';
import type { StageConfig } from './vec2text-layout.js';

export interface StageContract extends StageConfig {
  /** Width of the vector(s) the projection reads. */
  embedderDim: number;
}

/** A generated sequence: ids from the decoder start token on, EOS last when it finished. */
export interface GeneratedSequence {
  ids: number[];
  /** Sum of the tokens' log-probabilities (nats). */
  logProb: number;
  /** Beam score: logProb / generated length ^ length penalty (greedy: logProb). */
  score: number;
  finished: boolean;
}

export interface GenerateOptions {
  /** 1 = greedy (default). */
  numBeams?: number;
  /** Sequences returned per source, best first (default 1; at most numBeams). */
  numReturn?: number;
  /** Longest sequence incl. the start token. */
  maxLength: number;
  startTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  lengthPenalty?: number;
  /** false: recompute the whole prefix each step (reference decode); default true. */
  cache?: boolean;
  signal?: AbortSignal;
}

/** Encoder output of a batch of sources, ready for the decoder. */
export interface EncodedBatch {
  count: number;
  /** Encoder length S (padded). */
  length: number;
  mask: ort.Tensor;
  /** cross_key_values.{i}.{key,value} by name, batch = count. */
  cross: Record<string, ort.Tensor>;
}

type Typed = Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** Rows `rows` (indices into dim 0) of a tensor, as a new tensor. */
export function gatherRows(t: ort.Tensor, rows: readonly number[]): ort.Tensor {
  const data = t.data as Typed;
  const per = t.dims.length === 0 || t.dims[0] === 0 ? 0 : data.length / t.dims[0]!;
  const Ctor = data.constructor as new (n: number) => Typed;
  const out = new Ctor(rows.length * per);
  rows.forEach((r, i) => (out as Float32Array).set((data as Float32Array).subarray(r * per, (r + 1) * per), i * per));
  return new ort.Tensor(t.type as 'float32', out as Float32Array, [rows.length, ...t.dims.slice(1)]);
}

function idsTensorOf(type: string, ids: readonly number[], dims: number[]): ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(ids), dims);
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(ids, (v) => BigInt(v)),
    dims,
  );
}

function emptyFloat(type: string, dims: number[]): ort.Tensor {
  return type === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
}

/** log-softmax of row `r` of logits [rows, T, V] at position `pos`. */
function logSoftmaxRow(logits: Float32Array, r: number, T: number, pos: number, V: number): Float32Array {
  const off = (r * T + pos) * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[off + v]!);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v]! - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(V);
  for (let v = 0; v < V; v++) out[v] = logits[off + v]! - lse;
  return out;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
function topK(values: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (idx.length === k && x <= values[idx[k - 1]!]!) continue;
    let j = idx.length < k ? idx.length : k - 1;
    if (idx.length < k) idx.push(i);
    while (j > 0 && values[idx[j - 1]!]! < x) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
  }
  return idx;
}

function contractError(file: string, why: string): EngineError {
  return new EngineError(
    'INVALID_MODEL',
    `${file} does not match the E2T layout: ${why}. Re-export the pair with scripts/export-e2t.py (docs/e2t.md).`,
  );
}

function checkIo(
  s: Session,
  file: string,
  inputs: Record<string, (number | null)[] | undefined>,
  outputs: Record<string, (number | null)[] | undefined>,
): void {
  const check = (list: readonly TensorInfo[], want: Record<string, (number | null)[] | undefined>, what: string) => {
    for (const [name, dims] of Object.entries(want)) {
      const info = list.find((i) => i.name === name);
      if (!info) throw contractError(file, `no ${what} '${name}' (it has ${list.map((i) => i.name).join(', ')})`);
      if (!dims) continue;
      if (info.shape.length !== dims.length)
        throw contractError(file, `${what} '${name}' has rank ${info.shape.length}, expected ${dims.length}`);
      dims.forEach((d, i) => {
        const got = info.shape[i];
        if (d !== null && typeof got === 'number' && got > 0 && got !== d)
          throw contractError(file, `${what} '${name}' dim ${i} is ${got}, expected ${d}`);
      });
    }
  };
  check(s.inputs, inputs, 'input');
  check(s.outputs, outputs, 'output');
}

export class Seq2SeqStage {
  private constructor(
    readonly kind: StageKind,
    readonly contract: StageContract,
    private readonly projection: Session,
    private readonly encoder: Session,
    private readonly crossKv: Session,
    private readonly decoder: Session,
  ) {}

  /**
   * Open `<dir>/<kind>/` and check every graph's inputs and outputs against the config's sizes.
   * @throws EngineError('INVALID_MODEL') naming the file and the mismatch
   */
  static async open(dir: string, kind: StageKind, contract: StageContract, opts: CreateSessionOptions = {}): Promise<Seq2SeqStage> {
    const file = (f: string) => path.join(dir, kind, f);
    const open = (f: string) => createSession(file(f), { ...opts, name: `${kind}/${f}` });
    const sessions = await Promise.all(
      ['embedding_projection.onnx', 'encoder_model.onnx', 'cross_kv.onnx', 'decoder_model.onnx'].map(open),
    );
    const [projection, encoder, crossKv, decoder] = sessions as [Session, Session, Session, Session];
    const stage = new Seq2SeqStage(kind, contract, projection, encoder, crossKv, decoder);
    try {
      stage.checkContract(file);
    } catch (e) {
      await stage.release();
      throw e;
    }
    return stage;
  }

  private checkContract(file: (f: string) => string): void {
    const { embedderDim: din, dModel: h, numHeads: nh, dKv: dk, numDecoderLayers: L, vocabSize: V, numRepeatTokens: R } = this.contract;
    const projIn: Record<string, (number | null)[]> = { [IO.embedding]: [null, din] };
    if (this.kind === 'corrector') {
      projIn[IO.hypothesisEmbedding] = [null, din];
      projIn[IO.hypothesisIds] = [null, null];
    }
    checkIo(this.projection, file('embedding_projection.onnx'), projIn, {
      [IO.inputsEmbeds]: [null, this.kind === 'inverter' ? R : null, h],
    });
    checkIo(
      this.encoder,
      file('encoder_model.onnx'),
      { [IO.inputsEmbeds]: [null, null, h], [IO.attentionMask]: [null, null] },
      { [IO.lastHiddenState]: [null, null, h] },
    );
    const kv: Record<string, number[] | (number | null)[]> = {};
    for (let l = 0; l < L; l++) kv[IO.crossKey(l)] = kv[IO.crossValue(l)] = [null, nh, null, dk];
    checkIo(this.crossKv, file('cross_kv.onnx'), { [IO.encoderHiddenStates]: [null, null, h] }, kv);
    const decIn: Record<string, (number | null)[]> = { [IO.inputIds]: [null, null], [IO.encoderAttentionMask]: [null, null], ...kv };
    const decOut: Record<string, (number | null)[]> = { [IO.logits]: [null, null, V] };
    for (let l = 0; l < L; l++) {
      decIn[IO.pastKey(l)] = decIn[IO.pastValue(l)] = [null, nh, null, dk];
      decOut[IO.presentKey(l)] = decOut[IO.presentValue(l)] = [null, nh, null, dk];
    }
    checkIo(this.decoder, file('decoder_model.onnx'), decIn, decOut);
    const extra = this.decoder.inputs.filter((i) => !(i.name in decIn));
    if (extra.length > 0)
      throw contractError(
        file('decoder_model.onnx'),
        `unexpected inputs ${extra.map((i) => i.name).join(', ')} (does the config's numDecoderLayers = ${L} match?)`,
      );
    const logits = this.decoder.output(IO.logits)!.shape.at(-1);
    if (typeof logits === 'number' && logits > 0 && logits !== V)
      throw contractError(file('decoder_model.onnx'), `logits are ${logits} wide, config.json says vocabSize ${V}`);
  }

  private floatType(s: Session, name: string): FloatType {
    return s.input(name)?.type === 'float16' ? 'float16' : 'float32';
  }

  /**
   * The encoder input embeddings of a batch.
   * @param embedding [B * Din] target vectors
   * @param hypothesis corrector only: the hypotheses' vectors [B * Din] and their ids (each from
   *   the decoder start token on; padded here with `padId` to the longest)
   * @returns inputs_embeds [B, S, H] and the encoder mask ([B, S]: ones for the projected
   *   positions, ids != pad for the hypothesis tokens, as vec2text masks them)
   */
  async project(
    embedding: Float32Array,
    batch: number,
    hypothesis?: { embedding: Float32Array; ids: readonly (readonly number[])[]; padId: number },
  ): Promise<{ embeds: ort.Tensor; mask: number[][] }> {
    const din = this.contract.embedderDim;
    const feeds: Record<string, ort.Tensor> = {
      [IO.embedding]: floatTensor(embedding, [batch, din], this.floatType(this.projection, IO.embedding)),
    };
    const R = this.contract.numRepeatTokens;
    let mask: number[][];
    if (this.kind === 'inverter') {
      mask = Array.from({ length: batch }, () => new Array<number>(R).fill(1));
    } else {
      if (!hypothesis) throw new EngineError('INVALID_ARGUMENT', 'the corrector needs the hypotheses');
      const T = Math.max(...hypothesis.ids.map((r) => r.length));
      const flat: number[] = [];
      mask = [];
      for (const row of hypothesis.ids) {
        const padded = [...row, ...new Array<number>(T - row.length).fill(hypothesis.padId)];
        flat.push(...padded);
        mask.push([...new Array<number>(4 + 3 * R).fill(1), ...padded.map((id) => (id === hypothesis.padId ? 0 : 1))]);
      }
      feeds[IO.hypothesisEmbedding] = floatTensor(
        hypothesis.embedding,
        [batch, din],
        this.floatType(this.projection, IO.hypothesisEmbedding),
      );
      feeds[IO.hypothesisIds] = idsTensorOf(this.projection.input(IO.hypothesisIds)!.type, flat, [batch, T]);
    }
    const out = await this.projection.run(feeds, [IO.inputsEmbeds]);
    return { embeds: out[IO.inputsEmbeds]!, mask };
  }

  /** Run the encoder and the cross-attention projections on projected inputs. */
  async encode(embeds: ort.Tensor, mask: number[][]): Promise<EncodedBatch> {
    const [count, length] = [embeds.dims[0]!, embeds.dims[1]!];
    if (mask.length !== count || mask.some((m) => m.length !== length))
      throw new EngineError('SHAPE_MISMATCH', `encoder mask must be [${count}, ${length}]`);
    const encMask = idsTensorOf(this.encoder.input(IO.attentionMask)!.type, mask.flat(), [count, length]);
    const hidden = (await this.encoder.run({ [IO.inputsEmbeds]: embeds, [IO.attentionMask]: encMask }, [IO.lastHiddenState]))[
      IO.lastHiddenState
    ]!;
    const cross = await this.crossKv.run({ [IO.encoderHiddenStates]: hidden });
    const decMask = idsTensorOf(this.decoder.input(IO.encoderAttentionMask)!.type, mask.flat(), [count, length]);
    return { count, length, mask: decMask, cross };
  }

  /** Encoder output rows (for tests and diagnostics). */
  async encoderHidden(embeds: ort.Tensor, mask: number[][]): Promise<Float32Array> {
    const encMask = idsTensorOf(this.encoder.input(IO.attentionMask)!.type, mask.flat(), [mask.length, mask[0]!.length]);
    const out = await this.encoder.run({ [IO.inputsEmbeds]: embeds, [IO.attentionMask]: encMask }, [IO.lastHiddenState]);
    return Float32Array.from(tensorToFloat32(out[IO.lastHiddenState]!));
  }

  /**
   * One decoder run for `rows` sequences: the last `feed` tokens of each (all of them, with an
   * empty cache, for the reference decode). Returns the log-probabilities at the last position
   * and the new cache.
   */
  private async step(
    enc: { mask: ort.Tensor; cross: Record<string, ort.Tensor> },
    sequences: readonly (readonly number[])[],
    past: Record<string, ort.Tensor> | undefined,
  ): Promise<{ logProbs: Float32Array[]; present: Record<string, ort.Tensor> }> {
    const rows = sequences.length;
    const L = this.contract.numDecoderLayers;
    const tokens = past ? sequences.map((s) => s[s.length - 1]!) : sequences.flat();
    const T = past ? 1 : sequences[0]!.length;
    const feeds: Record<string, ort.Tensor> = {
      [IO.inputIds]: idsTensorOf(this.decoder.input(IO.inputIds)!.type, tokens, [rows, T]),
      [IO.encoderAttentionMask]: enc.mask,
      ...enc.cross,
    };
    const { numHeads, dKv, vocabSize: V } = this.contract;
    for (let l = 0; l < L; l++) {
      for (const name of [IO.pastKey(l), IO.pastValue(l)])
        feeds[name] = past?.[name] ?? emptyFloat(this.decoder.input(name)!.type, [rows, numHeads, 0, dKv]);
    }
    const out = await this.decoder.run(feeds);
    const logits = tensorToFloat32(out[IO.logits]!);
    const present: Record<string, ort.Tensor> = {};
    for (let l = 0; l < L; l++) {
      present[IO.pastKey(l)] = out[IO.presentKey(l)]!;
      present[IO.pastValue(l)] = out[IO.presentValue(l)]!;
    }
    const logProbs = Array.from({ length: rows }, (_, r) => logSoftmaxRow(logits, r, T, T - 1, V));
    return { logProbs, present };
  }

  /** Encoder-side tensors for `sources` (one row per decoder row). */
  private rowsOf(enc: EncodedBatch, sources: readonly number[]): { mask: ort.Tensor; cross: Record<string, ort.Tensor> } {
    if (sources.length === enc.count && sources.every((s, i) => s === i)) return enc;
    const cross: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(enc.cross)) cross[k] = gatherRows(t, sources);
    return { mask: gatherRows(enc.mask, sources), cross };
  }

  /**
   * Generate from each source of `enc`: greedy (numBeams 1) or beam search.
   * @returns per source, up to numReturn sequences, best score first
   * @throws CancelledError when `signal` fires (between decoder steps)
   */
  async generate(enc: EncodedBatch, o: GenerateOptions): Promise<GeneratedSequence[][]> {
    const W = Math.max(1, o.numBeams ?? 1);
    if ((o.numReturn ?? 1) > W) throw new EngineError('INVALID_ARGUMENT', `numReturn ${o.numReturn} exceeds numBeams ${W}`);
    if (o.maxLength < 2) throw new EngineError('INVALID_ARGUMENT', 'maxLength must leave room for one token after the start token');
    return W === 1 ? this.greedy(enc, o) : this.beam(enc, o, W);
  }

  private async greedy(enc: EncodedBatch, o: GenerateOptions): Promise<GeneratedSequence[][]> {
    const cache = o.cache ?? true;
    const seqs = Array.from({ length: enc.count }, () => ({ ids: [o.startTokenId], logProb: 0, finished: false }));
    let past: Record<string, ort.Tensor> | undefined;
    while (seqs.some((s) => !s.finished) && seqs[0]!.ids.length < o.maxLength) {
      if (o.signal?.aborted) throw new CancelledError('generation cancelled');
      // Finished rows keep being fed padding (their outputs are ignored), as transformers does.
      const feed = seqs.map((s) => s.ids);
      const r = await this.step(enc, feed, cache ? past : undefined);
      if (cache) past = r.present;
      seqs.forEach((s, i) => {
        if (s.finished) {
          s.ids.push(o.padTokenId);
          return;
        }
        const lp = r.logProbs[i]!;
        const tok = topK(lp, 1)[0]!;
        s.ids.push(tok);
        s.logProb += lp[tok]!;
        if (tok === o.eosTokenId) s.finished = true;
      });
    }
    return seqs.map((s) => {
      const end = s.finished ? s.ids.indexOf(o.eosTokenId, 1) + 1 : s.ids.length;
      return [{ ids: s.ids.slice(0, end), logProb: s.logProb, score: s.logProb, finished: s.finished }];
    });
  }

  private async beam(enc: EncodedBatch, o: GenerateOptions, W: number): Promise<GeneratedSequence[][]> {
    const cache = o.cache ?? true;
    const lp = o.lengthPenalty ?? 1;
    const norm = (logProb: number, genLen: number) => logProb / genLen ** lp;
    type Row = { source: number; ids: number[]; logProb: number };
    const pools: GeneratedSequence[][] = Array.from({ length: enc.count }, () => []);
    const addToPool = (s: number, seq: GeneratedSequence) => {
      const pool = pools[s]!;
      pool.push(seq);
      pool.sort((a, b) => b.score - a.score);
      if (pool.length > W) pool.pop();
    };
    let rows: Row[] = Array.from({ length: enc.count }, (_, s) => ({ source: s, ids: [o.startTokenId], logProb: 0 }));
    let past: Record<string, ort.Tensor> | undefined;
    let encRows = this.rowsOf(
      enc,
      rows.map((r) => r.source),
    );
    let rowSources = rows.map((r) => r.source).join(',');
    while (rows.length > 0) {
      if (o.signal?.aborted) throw new CancelledError('generation cancelled');
      const curLen = rows[0]!.ids.length;
      const r = await this.step(
        encRows,
        rows.map((x) => x.ids),
        cache ? past : undefined,
      );
      const next: (Row & { parent: number })[] = [];
      const bySource = new Map<number, number[]>();
      rows.forEach((row, i) => bySource.set(row.source, [...(bySource.get(row.source) ?? []), i]));
      for (const [s, idx] of bySource) {
        const cands: { parent: number; token: number; logProb: number }[] = [];
        for (const i of idx) {
          const l = r.logProbs[i]!;
          for (const tok of topK(l, 2 * W)) cands.push({ parent: i, token: tok, logProb: rows[i]!.logProb + l[tok]! });
        }
        cands.sort((a, b) => b.logProb - a.logProb || a.parent - b.parent || a.token - b.token);
        const live: (Row & { parent: number })[] = [];
        for (let k = 0; k < Math.min(cands.length, 2 * W) && live.length < W; k++) {
          const c = cands[k]!;
          const ids = [...rows[c.parent]!.ids, c.token];
          if (c.token === o.eosTokenId) {
            if (k < W) addToPool(s, { ids, logProb: c.logProb, score: norm(c.logProb, ids.length - 1), finished: true });
          } else {
            live.push({ source: s, ids, logProb: c.logProb, parent: c.parent });
          }
        }
        const pool = pools[s]!;
        let done = live.length === 0;
        if (!done && pool.length >= W && pool[pool.length - 1]!.score >= norm(live[0]!.logProb, curLen)) done = true;
        if (!done && curLen + 1 >= o.maxLength) {
          for (const b of live) addToPool(s, { ids: b.ids, logProb: b.logProb, score: norm(b.logProb, b.ids.length - 1), finished: false });
          done = true;
        }
        if (!done) next.push(...live);
      }
      if (next.length === 0) break;
      if (cache) {
        const parents = next.map((n) => n.parent);
        past = {};
        for (const [k, t] of Object.entries(r.present)) past[k] = gatherRows(t, parents);
      }
      rows = next.map(({ source, ids, logProb }) => ({ source, ids, logProb }));
      const key = rows.map((x) => x.source).join(',');
      if (key !== rowSources) {
        encRows = this.rowsOf(
          enc,
          rows.map((x) => x.source),
        );
        rowSources = key;
      }
    }
    const n = o.numReturn ?? 1;
    return pools.map((p) => p.slice(0, n));
  }

  async release(): Promise<void> {
    await Promise.all([this.projection, this.encoder, this.crossKv, this.decoder].map((s) => s.release()));
  }
}
