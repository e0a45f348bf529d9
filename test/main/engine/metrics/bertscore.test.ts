import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BERTSCORE_REPO,
  exposeLayer,
  findLayerOutput,
  greedyMatch,
  loadBertScorer,
} from '../../../../src/main/engine/metrics/bertscore.js';
import type { Model } from '../../../../src/main/engine/onnx/ir.js';
import { encodeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { buildBertModel, VOCAB, writeBertFixture } from './bert-fixture.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'bertscore-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('greedy matching (bert_score greedy_cos_idf, idf off)', () => {
  it('matches each piece to its most similar piece of the other text, weights on the summing side', () => {
    // 2-D pieces. cand: c1 = (1,0), c2 = (0,1). ref: r1 = (1,1), r2 = (1,0), r3 = (-1, 0).
    // cos: c1·r = (0.7071, 1, -1); c2·r = (0.7071, 0, 0).
    // P = mean(max over r) = (1 + 0.7071) / 2 = 0.85355; R = mean(max over c) = (0.7071 + 1 + 0) / 3 = 0.56904.
    const cand = Float32Array.of(1, 0, 0, 1);
    const ref = Float32Array.of(1, 1, 1, 0, -1, 0);
    const s = greedyMatch(cand, ref, 2);
    expect(s.precision).toBeCloseTo((1 + Math.SQRT1_2) / 2, 5);
    expect(s.recall).toBeCloseTo((Math.SQRT1_2 + 1) / 3, 5);
    expect(s.f1).toBeCloseTo((2 * s.precision * s.recall) / (s.precision + s.recall), 6);
    // Weight 0 on r3 (a [SEP]): it leaves the recall sum but still counts as a match for c's.
    const w = greedyMatch(cand, ref, 2, [1, 1], [1, 1, 0]);
    expect(w.recall).toBeCloseTo((Math.SQRT1_2 + 1) / 2, 5);
    expect(w.precision).toBeCloseTo(s.precision, 6);
    // Scale does not matter (cosine), identical texts score 1.
    const same = greedyMatch(Float32Array.of(2, 0, 0, 3), Float32Array.of(1, 0, 0, 1), 2);
    expect(same).toEqual({ precision: 1, recall: 1, f1: 1 });
  });
});

describe('finding layer k in a BERT graph', () => {
  it('takes the last node of encoder/layer.{k-1}/output/LayerNorm (a decomposed LayerNorm too)', () => {
    const model = buildBertModel(3);
    const name = findLayerOutput(model, 2);
    const node = model.graph.nodes.find((n) => n.outputs.includes(name))!;
    expect(node.name).toBe('/encoder/layer.1/output/LayerNorm/LayerNormalization');
    const decomposed = {
      graph: {
        nodes: ['ReduceMean', 'Sub', 'Pow', 'ReduceMean_1', 'Add', 'Sqrt', 'Div', 'Mul', 'Add_1'].map((op, i) => ({
          name: `/encoder/layer.16/output/LayerNorm/${op}`,
          opType: op.replace(/_\d$/, ''),
          inputs: i === 0 ? ['x'] : [`v${i - 1}`],
          outputs: [`v${i}`],
        })),
      },
    } as unknown as Model;
    expect(findLayerOutput(decomposed, 17)).toBe('v8');
  });

  it('counts LayerNormalizations when nodes are not named, and says when the layer is not there', () => {
    const model = buildBertModel(3, { named: false });
    const norms = model.graph.nodes.filter((n) => n.opType === 'LayerNormalization');
    expect(findLayerOutput(model, 2)).toBe(norms[4]!.outputs[0]);
    expect(() => findLayerOutput(model, 17)).toThrow(/no encoder layer 17.*3 layers/);
  });

  it('prunes the layers after it and keeps the inputs it reads', () => {
    const { model, output } = exposeLayer(buildBertModel(3), 2);
    expect(model.graph.outputs.map((o) => o.name)).toEqual([output]);
    expect(model.graph.nodes.some((n) => n.name.includes('layer.2'))).toBe(false);
    expect([...model.graph.initializers.keys()].some((k) => k.includes('layer.2'))).toBe(false);
    expect(model.graph.inputs.map((i) => i.name).sort()).toEqual(['attention_mask', 'input_ids', 'token_type_ids']);
  });
});

describe('the BERTScore loader (transformers.js tokenizer, our graph surgery)', () => {
  it('is NOT_INSTALLED with how to export it when absent', async () => {
    await expect(loadBertScorer({ cacheDir: root })).rejects.toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringContaining('scripts/export-bertscore.py'),
    });
  });

  it('embeds word pieces at the chosen layer and scores P/R/F1 by greedy matching', async () => {
    const cache = path.join(root, 'cache');
    const full = await writeBertFixture(path.join(cache, ...BERTSCORE_REPO.split('/')), 3);
    const scorer = await loadBertScorer({ cacheDir: cache, layer: 2 });
    try {
      // "cats" is two pieces (cat ##s): [CLS] a red cat ##s [SEP] = 6 pieces.
      const e = await scorer.embed('A red cats');
      expect(e.pieces).toBe(6);
      expect(e.dim).toBe(8);
      // The same values as the full graph's layer-2 output, read with an extra output.
      const value = findLayerOutput(full, 2);
      const withOut: Model = { ...full, graph: { ...full.graph, outputs: [...full.graph.outputs, { name: value, dtype: 1 }] } };
      const session = await ort.InferenceSession.create(encodeModel(withOut));
      const ids = [2, 5, 6, 7, 13, 3].map(BigInt);
      const t = (v: bigint[]) => new ort.Tensor('int64', BigInt64Array.from(v), [1, 6]);
      const res = await session.run({ input_ids: t(ids), attention_mask: t(ids.map(() => 1n)), token_type_ids: t(ids.map(() => 0n)) }, [
        value,
        'last_hidden_state',
      ]);
      const want = res[value]!.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(e.hidden[i]).toBeCloseTo(want[i]!, 5);
      // ... and not the last layer's.
      expect(Math.abs(e.hidden[0]! - (res['last_hidden_state']!.data as Float32Array)[0]!)).toBeGreaterThan(1e-4);
      await session.release();

      const [same, other] = await scorer.score(['a red cat on the sofa', 'a blue dog'], ['a red cat on the sofa', 'a red cat on the sofa']);
      expect(same!.f1).toBeCloseTo(1, 5);
      expect(other!.f1).toBeLessThan(1);
      // By hand from the embeddings: [CLS]/[SEP] weigh 0 on the summing side only.
      const c = await scorer.embed('a blue dog');
      const r = await scorer.embed('a red cat on the sofa');
      const ends = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? 0 : 1));
      const byHand = greedyMatch(c.hidden, r.hidden, 8, ends(c.pieces), ends(r.pieces));
      expect(other!.precision).toBeCloseTo(byHand.precision, 6);
      expect(other!.recall).toBeCloseTo(byHand.recall, 6);
      expect(VOCAB).toContain('sofa');
    } finally {
      await scorer.release();
    }
  });
});
