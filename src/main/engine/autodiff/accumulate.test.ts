import { describe, it, expect } from 'vitest';
import { DataType } from '../onnx/dtype.js';
import { checkGradient } from './testing/fd.js';

const D = DataType.DOUBLE;

describe('accumulation through Gemm C (several linear layers reading one value)', () => {
  it('three projections of x: the input gradients are chained Gemms, no Add/Sum', async () => {
    const r = await checkGradient({
      label: 'q/k/v projections',
      inputs: { x: { shape: [2, 3, 4] } },
      build: (b, x) => {
        const w = (k: number, n: number) => b.initializer(`w${k}`, D, [4, n], Array.from({ length: 4 * n }, (_v, i) => Math.sin(i + k)));
        const q = b.op('MatMul', [x.x!, w(1, 5)]);
        const k = b.op('MatMul', [x.x!, w(2, 5)]);
        const v = b.op('MatMul', [x.x!, w(3, 5)]);
        return b.op('Mul', [b.op('Mul', [q, k]), v]);
      },
      wrt: ['x'],
    });
    const ops = r.report.emittedOps;
    expect(ops['Gemm']).toBe(3);
    expect(ops['Sum']).toBeUndefined();
    expect(ops['Add']).toBeUndefined();
    const gemms = r.vjpModel.graph.nodes.filter((n) => n.opType === 'Gemm');
    expect(gemms.map((n) => n.inputs.length).sort()).toEqual([2, 3, 3]);
  });

  it('mixed contributions: the Gemms are chained and the rest added', async () => {
    const r = await checkGradient({
      label: 'two projections and an elementwise use',
      inputs: { x: { shape: [3, 4] } },
      build: (b, x) => {
        const w = (k: number) => b.initializer(`w${k}`, D, [4, 4], Array.from({ length: 16 }, (_v, i) => Math.cos(i * k)));
        const a = b.op('MatMul', [x.x!, w(1)]);
        const c = b.op('MatMul', [x.x!, w(2)]);
        return b.op('Add', [b.op('Mul', [a, c]), b.op('Sin', [x.x!])]);
      },
      wrt: ['x'],
    });
    const gemms = r.vjpModel.graph.nodes.filter((n) => n.opType === 'Gemm');
    expect(gemms.map((n) => n.inputs.length).sort()).toEqual([2, 3]);
    // the chain's result plus Sin's contribution: one Add
    expect(r.report.emittedOps['Add']).toBe(1);
    expect(r.report.emittedOps['Sum']).toBeUndefined();
  });

  it('a chained sum handed on to two values (Add) is not chained again', async () => {
    // a = p + q feeds one projection, whose input gradient Add hands to both p and q; p has a
    // projection of its own: chaining those two Gemms would change q's gradient too
    await checkGradient({
      label: 'shared contribution',
      inputs: { x: { shape: [3, 4] } },
      build: (b, x) => {
        const w = (k: number) => b.initializer(`w${k}`, D, [4, 4], Array.from({ length: 16 }, (_v, i) => Math.sin(i * k + 1)));
        // q before p in node order: the reverse sweep sums p's gradient before q's rule reads the shared one
        const q = b.op('Cos', [x.x!]);
        const p = b.op('Sin', [x.x!]);
        const a = b.op('Add', [p, q]);
        const t = b.op('Sin', [b.op('MatMul', [a, w(1)])]);
        return b.op('Add', [t, b.op('Sin', [b.op('MatMul', [p, w(3)])])]);
      },
      wrt: ['x'],
    });
  });
});
