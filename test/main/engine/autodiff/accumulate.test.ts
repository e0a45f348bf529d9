import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import type { Graph, Node } from '../../../../src/main/engine/onnx/ir.js';
import { GradGraphIndex } from '../../../../src/main/engine/autodiff/accumulate.js';
import { checkGradient } from './fd.js';

const D = DataType.DOUBLE;

describe('accumulation through Gemm C (several linear layers reading one value)', () => {
  it('three projections of x: the input gradients are chained Gemms, no Add/Sum', async () => {
    const r = await checkGradient({
      label: 'q/k/v projections',
      inputs: { x: { shape: [2, 3, 4] } },
      build: (b, x) => {
        const w = (k: number, n: number) =>
          b.initializer(
            `w${k}`,
            D,
            [4, n],
            Array.from({ length: 4 * n }, (_v, i) => Math.sin(i + k)),
          );
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
        const w = (k: number) =>
          b.initializer(
            `w${k}`,
            D,
            [4, 4],
            Array.from({ length: 16 }, (_v, i) => Math.cos(i * k)),
          );
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
        const w = (k: number) =>
          b.initializer(
            `w${k}`,
            D,
            [4, 4],
            Array.from({ length: 16 }, (_v, i) => Math.sin(i * k + 1)),
          );
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

describe('GradGraphIndex (producers and consumers of the graph being written)', () => {
  const node = (name: string, opType: string, inputs: string[], outputs: string[]): Node => ({
    name,
    opType,
    domain: '',
    inputs,
    outputs,
    attrs: {},
  });

  it('indexes appended nodes, counts a repeated input once per node, and stays in step across its edits', () => {
    const fwd = node('f', 'Relu', ['x'], ['y']);
    const g: Graph = {
      name: 'g',
      inputs: [],
      outputs: [{ name: 'y', dtype: DataType.FLOAT }],
      initializers: new Map(),
      nodes: [fwd],
      valueInfo: new Map(),
    };
    const index = new GradGraphIndex(g, 1);
    const g1 = node('g1', 'Gemm', ['dy', 'w1'], ['a']);
    const r1 = node('r1', 'Reshape', ['a', 's'], ['ra']);
    const g2 = node('g2', 'Gemm', ['dy', 'w2'], ['b']);
    const m = node('m', 'Mul', ['y', 'y'], ['yy']);
    g.nodes.push(g1, r1, g2, m);
    index.sync();
    // forward values have no emitted producer; y is read by Mul (once) and is a graph output
    expect(index.producer('y')).toBeUndefined();
    expect(index.uses('y')).toBe(2);
    expect(index.uses('dy')).toBe(2);
    expect(index.producer('ra')?.node).toBe(r1);
    expect(index.producer('a')!.seq).toBeLessThan(index.producer('b')!.seq);

    g2.inputs.push('a');
    index.addedInput(g2, 'a');
    expect(index.uses('a')).toBe(2);
    index.remove(new Set([r1]));
    expect(g.nodes).toEqual([fwd, g1, g2, m]);
    expect(index.producer('ra')).toBeUndefined();
    expect(index.uses('a')).toBe(1);

    // nodes appended after a removal are indexed too, after the earlier ones
    const s = node('s', 'Sin', ['b', 'a'], ['c']);
    g.nodes.push(s);
    index.sync();
    expect(index.producer('c')?.node).toBe(s);
    expect(index.producer('c')!.seq).toBeGreaterThan(index.producer('b')!.seq);
    expect(index.uses('a')).toBe(2);
    expect(index.uses('b')).toBe(1);
  });
});
