import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { appendLoss, differentiateLoss, type LossSpec } from '../../../../src/main/engine/autodiff/loss.js';
import { buildForward, rng } from './fd.js';
import { createSession, tensor, toNumbers, type Feeds } from './ort.js';

const D = DataType.DOUBLE;
const SHAPE = [2, 3, 4];
const N = 24;

async function forwardModel(dtype = D) {
  return buildForward({
    dtype,
    inputs: { x: { shape: SHAPE } },
    build: (b, x) => [b.op('Mul', [b.op('Sin', [x.x!]), b.scalar(1.5, dtype)]), b.op('Exp', [b.op('Mul', [x.x!, b.scalar(0.3, dtype)])])],
  });
}

function refLoss(y1: Float64Array, y2: Float64Array, t1: Float64Array, t2: Float64Array): number {
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const mse = mean([...y1].map((v, i) => (v - t1[i]!) ** 2));
  const mae = mean([...y2].map((v, i) => Math.abs(v - t2[i]!)));
  const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let d = 0,
      na = 0,
      nb = 0;
    for (let i = 0; i < a.length; i++) {
      d += a[i]! * b[i]!;
      na += a[i]! ** 2;
      nb += b[i]! ** 2;
    }
    return d / Math.max(Math.sqrt(na * nb), 1e-8);
  };
  const rows: number[] = [];
  for (let r = 0; r < 6; r++) rows.push(1 - cos(y1.subarray(r * 4, r * 4 + 4), t1.subarray(r * 4, r * 4 + 4)));
  const cosRows = mean(rows);
  const cosFlat = 1 - cos(y2, t2);
  return mse + 0.5 * mae + 2 * cosRows + cosFlat;
}

describe('loss composition', () => {
  it('weighted sum of MSE, mean-abs, cosine (last axis) and cosine (flattened): value and dLoss/dx by finite differences', async () => {
    const { model, feeds, values } = await forwardModel();
    const [o1, o2] = model.graph.outputs.map((o) => o.name) as [string, string];
    const spec: LossSpec = {
      kind: 'sum',
      terms: [
        { kind: 'mse', output: o1 },
        { kind: 'mae', output: o2, weight: 0.5 },
        { kind: 'cosine', output: o1, weight: 2 },
        { kind: 'cosine', output: o2, over: 'flattened' },
      ],
    };
    const r = differentiateLoss(model, spec, { wrt: ['x'] });
    expect(r.cotangentInputs).toEqual({});
    expect(r.targets).toEqual({ [o1]: `${o1}_target`, [o2]: `${o2}_target` });
    expect(r.model.graph.inputs.map((v) => v.name)).toEqual(['x', `${o1}_target`, `${o2}_target`]);
    expect(r.model.graph.outputs.map((v) => v.name)).toEqual([o1, o2, 'loss', 'x_grad']);

    const rand = rng(7);
    const t1 = Float64Array.from({ length: N }, () => rand() * 2 - 1);
    const t2 = Float64Array.from({ length: N }, () => rand() * 2);
    const all: Feeds = { ...feeds, [`${o1}_target`]: tensor(D, SHAPE, t1), [`${o2}_target`]: tensor(D, SHAPE, t2) };
    const s = await createSession(r.model);
    const res = await s.run(all);
    const y1 = toNumbers(res[o1]!);
    const y2 = toNumbers(res[o2]!);
    const loss = toNumbers(res['loss']!)[0]!;
    expect(res['loss']!.dims).toEqual([]);
    expect(loss).toBeCloseTo(refLoss(y1, y2, t1, t2), 10);

    // finite differences of the loss alone
    const lossOnly = appendLoss(model, spec).model;
    const ls = await createSession(lossOnly);
    const x0 = values.get('x')!;
    const grad = toNumbers(res['x_grad']!);
    const eps = 1e-6;
    for (let i = 0; i < N; i++) {
      const xp = Float64Array.from(x0),
        xm = Float64Array.from(x0);
      xp[i]! += eps;
      xm[i]! -= eps;
      const fp = toNumbers((await ls.run({ ...all, x: tensor(D, SHAPE, xp) }))['loss']!)[0]!;
      const fm = toNumbers((await ls.run({ ...all, x: tensor(D, SHAPE, xm) }))['loss']!)[0]!;
      expect(Math.abs(grad[i]! - (fp - fm) / (2 * eps))).toBeLessThan(1e-7);
    }
    await s.release();
    await ls.release();
  });

  it('float32 model: a single MSE term, gradient equals 2 (y - t) dy/dx / n', async () => {
    const { model, feeds, values } = await forwardModel(DataType.FLOAT);
    const o1 = model.graph.outputs[0]!.name;
    const r = differentiateLoss(model, { kind: 'mse', output: o1, target: 'target' }, { wrt: ['x'] });
    expect(r.model.graph.inputs.map((v) => v.name)).toEqual(['x', 'target']);
    const t = new Float64Array(N).fill(0.25);
    const s = await createSession(r.model);
    const res = await s.run({ ...feeds, target: tensor(DataType.FLOAT, SHAPE, t) });
    await s.release();
    const x = values.get('x')!;
    const g = toNumbers(res['x_grad']!);
    for (let i = 0; i < N; i++) {
      const y = 1.5 * Math.sin(x[i]!);
      expect(g[i]!).toBeCloseTo((2 * (y - 0.25) * 1.5 * Math.cos(x[i]!)) / N, 5);
    }
  });

  it('rejects unknown outputs and name clashes', async () => {
    const { model } = await forwardModel();
    expect(() => appendLoss(model, { kind: 'mse', output: 'nope' })).toThrow(/not a graph output/);
    expect(() => appendLoss(model, { kind: 'mse', output: model.graph.outputs[0]!.name, target: 'x' })).not.toThrow();
    expect(() => appendLoss(model, { kind: 'sum', terms: [] })).toThrow(/no terms/);
  });
});
