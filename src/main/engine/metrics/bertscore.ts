/**
 * BERTScore (Zhang et al. 2020) as the papers compute it: bert-large-uncased, the hidden state
 * after encoder layer 17 (bert_score's `num_layers=17`: hidden_states[17]), no baseline
 * rescaling, idf off — every word piece weighs 1 except [CLS] and [SEP], which weigh 0 on the
 * summing side but still take part in the greedy max, as in bert_score's `greedy_cos_idf`.
 *
 *   P = Σ_i w_i max_j cos(c_i, r_j) / Σ_i w_i    (candidate pieces i, reference pieces j)
 *   R = Σ_j w_j max_i cos(c_i, r_j) / Σ_j w_j,   F1 = 2PR / (P + R) (0 when undefined)
 *
 * transformers.js' feature extraction returns only the last layer, so the ONNX graph is edited
 * here: the layer's output (the last node of `encoder/layer.{k-1}/output/LayerNorm`, or the
 * (2k+1)-th LayerNormalization when nodes are not named) becomes the only graph output and the
 * layers after it are pruned. The tokenizer (WordPiece, from tokenizer.json) is transformers.js'.
 *
 * No hub repository with an ONNX bert-large-uncased was found from here: export one with
 * scripts/export-bertscore.py (optimum, the transformers.js layout) and put the folder at
 * `<cache>/google-bert/bert-large-uncased/` (or `<cache>/models/bert-large-uncased/`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors.js';
import { loadTransformers, locateHubModel } from '../hf/transformers.js';
import { DataType } from '../onnx/dtype.js';
import type { Model, Node } from '../onnx/ir.js';
import { readModel } from '../onnx/model-io.js';
import { sessionFromModel } from '../runtime/session-from-model.js';
import { idsTensor, tensorToFloat32 } from '../runtime/tensors.js';

export const BERTSCORE_REPO = 'google-bert/bert-large-uncased';
export const BERTSCORE_MODEL_ID = 'bert-large-uncased';
/** The paper's layer (1-based encoder layer whose output is used). */
export const BERTSCORE_LAYER = 17;
export const BERTSCORE_FILES = ['config.json', 'tokenizer.json', 'onnx/model.onnx'] as const;

export interface BertScore {
  precision: number;
  recall: number;
  f1: number;
}

/**
 * Greedy cosine matching of candidate pieces [n, d] against reference pieces [m, d].
 * @param candWeights, refWeights per-piece weights (default 1 each); a weight of 0 drops the
 *   piece from that side's sum but keeps it as a match for the other side
 */
export function greedyMatch(
  cand: Float32Array,
  ref: Float32Array,
  dim: number,
  candWeights?: ArrayLike<number>,
  refWeights?: ArrayLike<number>,
): BertScore {
  const n = cand.length / dim;
  const m = ref.length / dim;
  const unitRows = (x: Float32Array, rows: number) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += x[r * dim + j]! ** 2;
      const k = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let j = 0; j < dim; j++) out[r * dim + j] = x[r * dim + j]! * k;
    }
    return out;
  };
  const c = unitRows(cand, n);
  const r = unitRows(ref, m);
  const bestC = new Float64Array(n).fill(-Infinity);
  const bestR = new Float64Array(m).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += c[i * dim + k]! * r[j * dim + k]!;
      if (s > bestC[i]!) bestC[i] = s;
      if (s > bestR[j]!) bestR[j] = s;
    }
  }
  const weighted = (best: Float64Array, w: ArrayLike<number> | undefined) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < best.length; i++) {
      const wi = w ? w[i]! : 1;
      num += wi * best[i]!;
      den += wi;
    }
    return den > 0 ? num / den : 0;
  };
  const precision = weighted(bestC, candWeights);
  const recall = weighted(bestR, refWeights);
  const f1 = precision + recall !== 0 && Number.isFinite(precision + recall) ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/**
 * Name of the hidden state after encoder layer `layer` (1-based) of a BERT-style ONNX graph.
 * Exports name their nodes `/encoder/layer.{k}/output/LayerNorm/...` (optimum, torch.onnx); the
 * group's last node gives the layer's output. Without such names, the (2·layer + 1)-th
 * LayerNormalization (one after the embeddings, two per layer) is taken.
 * @throws EngineError('INVALID_MODEL') when the graph has no such layer
 */
export function findLayerOutput(model: Model, layer: number): string {
  const nodes = model.graph.nodes;
  const group = new RegExp(`(^|/)encoder/layer\\.${layer - 1}/output/LayerNorm(/|$)`);
  const inGroup = nodes.filter((n) => group.test(n.name));
  if (inGroup.length > 0) {
    const produced = new Set(inGroup.flatMap((n) => n.outputs));
    const consumedInside = new Set(inGroup.flatMap((n) => n.inputs).filter((i) => produced.has(i)));
    const last = inGroup.filter((n) => n.outputs.some((o) => !consumedInside.has(o))).at(-1)!;
    return last.outputs[0]!;
  }
  const norms = nodes.filter((n) => n.opType === 'LayerNormalization');
  const k = 2 * layer;
  if (norms.length > k && norms.length % 2 === 1) return norms[k]!.outputs[0]!;
  const layers = Math.max(0, (norms.length - 1) / 2);
  throw new EngineError(
    'INVALID_MODEL',
    `this BERT graph has no encoder layer ${layer} (its nodes are not named encoder/layer.N/..., and it has ${norms.length} LayerNormalization nodes, i.e. ${Number.isInteger(layers) ? layers : '?'} layers)`,
  );
}

/** Keep only what computes `outputs` (nodes, initializers, inputs). */
export function pruneTo(model: Model, outputs: string[]): Model {
  const g = model.graph;
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const needed = new Set<string>();
  const keep = new Set<Node>();
  const stack = [...outputs];
  while (stack.length) {
    const v = stack.pop()!;
    if (!v || needed.has(v)) continue;
    needed.add(v);
    const p = producer.get(v);
    if (p && !keep.has(p)) {
      keep.add(p);
      stack.push(...p.inputs);
      // Subgraph attributes (If/Loop) read outer values too; BERT has none, keep it simple but safe.
      for (const a of Object.values(p.attrs))
        if (a.kind === 'graph' || a.kind === 'graphs')
          throw new EngineError('INVALID_MODEL', 'pruning graphs with subgraphs is not supported');
    }
  }
  const valueType = (name: string) => g.valueInfo.get(name) ?? g.outputs.find((o) => o.name === name);
  return {
    ...model,
    graph: {
      ...g,
      nodes: g.nodes.filter((n) => keep.has(n)),
      inputs: g.inputs.filter((i) => needed.has(i.name)),
      initializers: new Map([...g.initializers].filter(([k]) => needed.has(k))),
      outputs: outputs.map((name) => valueType(name) ?? { name, dtype: DataType.FLOAT }),
      valueInfo: new Map([...g.valueInfo].filter(([k]) => needed.has(k))),
    },
  };
}

/** A BERT graph whose only output is the hidden state after encoder layer `layer` (`output` names it). */
export function exposeLayer(model: Model, layer: number): { model: Model; output: string } {
  const value = findLayerOutput(model, layer);
  return { model: pruneTo(model, [value]), output: value };
}

/** The BERT folder in the cache (either layout), if its files are there. */
export function locateBert(cacheDir: string): string | undefined {
  const ref = locateHubModel(cacheDir, BERTSCORE_REPO, BERTSCORE_MODEL_ID);
  return ref && BERTSCORE_FILES.every((f) => existsSync(path.join(ref.dir, f))) ? ref.dir : undefined;
}

export interface BertScorer {
  readonly layer: number;
  /** The layer's hidden states of a text's word pieces ([CLS] ... [SEP]): [pieces, dim]. */
  embed(text: string): Promise<{ hidden: Float32Array; pieces: number; dim: number }>;
  /** BERTScore of each candidate against its reference. */
  score(candidates: string[], references: string[]): Promise<BertScore[]>;
  release(): Promise<void>;
}

interface HfTokenizer {
  encode(text: string): number[];
}

/**
 * Load bert-large-uncased from the cache with layer `layer` exposed.
 * @throws EngineError('NOT_INSTALLED') saying how to produce and install it
 */
export async function loadBertScorer(o: {
  cacheDir: string;
  layer?: number;
  sessionOptions?: ort.InferenceSession.SessionOptions;
  repo?: string;
}): Promise<BertScorer> {
  const layer = o.layer ?? BERTSCORE_LAYER;
  const dir = locateBert(o.cacheDir);
  if (!dir) {
    throw new EngineError(
      'NOT_INSTALLED',
      `BERTScore's model (${BERTSCORE_REPO}: ${BERTSCORE_FILES.join(', ')}) is not installed in ${o.cacheDir}. ` +
        `Export it with \`python scripts/export-bertscore.py OUT\` on a machine with Python (optimum), then copy OUT to ${o.cacheDir}/${BERTSCORE_REPO}/.`,
    );
  }
  const t = await loadTransformers({ cacheDir: o.cacheDir, offline: true });
  const tokenizer = (await t.AutoTokenizer.from_pretrained(dir)) as unknown as HfTokenizer;
  const { model, output } = exposeLayer(await readModel(path.join(dir, 'onnx', 'model.onnx')), layer);
  const session = await sessionFromModel(model, o.sessionOptions);
  const inputs = new Set(session.inputNames);
  const embed = async (text: string): Promise<{ hidden: Float32Array; pieces: number; dim: number }> => {
    const ids = tokenizer.encode(text);
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = { input_ids: idsTensor(ids, [1, n], 'int64') };
    if (inputs.has('attention_mask')) feeds['attention_mask'] = idsTensor(new Array<number>(n).fill(1), [1, n], 'int64');
    if (inputs.has('token_type_ids')) feeds['token_type_ids'] = idsTensor(new Array<number>(n).fill(0), [1, n], 'int64');
    const res = await session.run(feeds, [output]);
    const hidden = Float32Array.from(tensorToFloat32(res[output]!));
    return { hidden, pieces: n, dim: hidden.length / n };
  };
  // [CLS] first and [SEP] last (a single sentence): weight 0, as bert_score's idf dict without idf.
  const ends = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? 0 : 1));
  return {
    layer,
    embed,
    async score(candidates, references) {
      if (candidates.length !== references.length) throw new EngineError('INVALID_ARGUMENT', 'BERTScore needs one reference per candidate');
      const out: BertScore[] = [];
      for (let i = 0; i < candidates.length; i++) {
        const c = await embed(candidates[i]!.trim());
        const r = await embed(references[i]!.trim());
        out.push(greedyMatch(c.hidden, r.hidden, c.dim, ends(c.pieces), ends(r.pieces)));
      }
      return out;
    },
    release: () => session.release(),
  };
}
