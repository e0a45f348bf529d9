import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { f } from '../../../../../src/main/engine/onnx/builder.js';
import { checkGradient } from '../fd.js';

const F = DataType.FLOAT;

describe('InstanceNormalization gradient (finite differences, float32: no double kernel)', () => {
  const inorm = (shape: number[], eps: number) =>
    checkGradient({
      label: `InstanceNormalization ${shape} eps ${eps}`,
      dtype: F,
      // float32 statistics: a larger step keeps rounding noise below the tolerance
      eps: 3e-3,
      inputs: { x: { shape, min: -2, max: 2 }, s: { shape: [shape[1]!] }, bias: { shape: [shape[1]!] } },
      build: (b, x) => b.op('InstanceNormalization', [x.x!, x.s!, x.bias!], { epsilon: f(eps) }),
      wrt: ['x', 's', 'bias'],
    });
  it('4-D, eps 1e-5 (GroupNorm as exported at opset 14)', async () => expect((await inorm([2, 3, 4, 5], 1e-5)).checks.length).toBe(3));
  it('3-D, eps 1e-6 (GroupNorm reshaped to [N, G, -1] by the exporter)', async () =>
    expect((await inorm([2, 4, 6], 1e-6)).checks.length).toBe(3));
  it('large eps 0.5', async () => expect((await inorm([1, 2, 3, 3], 0.5)).checks.length).toBe(3));
  it('GroupNorm as exported (constant unit scale / zero bias, then Mul/Add): reuses the output as xhat', async () => {
    const G = 2;
    const r = await checkGradient({
      label: 'exported GroupNorm',
      dtype: F,
      eps: 3e-3,
      inputs: { x: { shape: [1, 4, 3, 5], min: -2, max: 2 } },
      build: (b, x) => {
        const r3 = b.op('Reshape', [x.x!, b.int64s([0, G, -1])]);
        const n = b.op('InstanceNormalization', [r3, b.initializer('ones', F, [G], [1, 1]), b.initializer('zeros', F, [G], [0, 0])], {
          epsilon: f(1e-5),
        });
        const back = b.op('Reshape', [n, b.int64s([1, 4, 3, 5])]);
        const gamma = b.initializer('gamma', F, [4, 1, 1], [0.5, -1.5, 2, 1.25]);
        return b.op('Add', [b.op('Mul', [back, gamma]), b.initializer('beta', F, [4, 1, 1], [0.1, 0.2, -0.3, 0])]);
      },
      wrt: ['x'],
    });
    // the unit scale is never multiplied in and xhat is the node's output: Muls are d * d (variance),
    // dxhat * xhat, xhat * m2, by rstd, plus the Mul node's own g * gamma
    expect(r.report.emittedOps['Mul']).toBe(5);
  });
  it('constant non-unit scale and bias (recomputed xhat)', async () => {
    await checkGradient({
      label: 'InstanceNorm const affine',
      dtype: F,
      eps: 3e-3,
      inputs: { x: { shape: [2, 3, 7], min: -2, max: 2 } },
      build: (b, x) =>
        b.op('InstanceNormalization', [x.x!, b.initializer('s', F, [3], [1, 0.5, -2]), b.initializer('bb', F, [3], [0, 0, 0])], {
          epsilon: f(1e-5),
        }),
      wrt: ['x'],
    });
  });
});

describe('LayerNormalization gradient (finite differences, float64)', () => {
  it('axis -1, eps 1e-5, scale and bias (CLIP layer norm)', async () => {
    const r = await checkGradient({
      label: 'LayerNorm last axis',
      opset: 17,
      inputs: { x: { shape: [2, 3, 6], min: -2, max: 2 }, s: { shape: [6] }, bias: { shape: [6] } },
      build: (b, x) => b.op('LayerNormalization', [x.x!, x.s!, x.bias!], { axis: -1, epsilon: f(1e-5) }),
      wrt: ['x', 's', 'bias'],
    });
    expect(r.checks.length).toBe(3);
  });
  it('axis 1 (normalise two axes), eps 0.1, no bias', async () => {
    const r = await checkGradient({
      label: 'LayerNorm axis 1',
      inputs: { x: { shape: [2, 3, 4] }, s: { shape: [3, 4] } },
      build: (b, x) => b.op('LayerNormalization', [x.x!, x.s!], { axis: 1, epsilon: f(0.1) }),
      wrt: ['x', 's'],
    });
    expect(r.checks.length).toBe(2);
  });
  it('scale broadcast along the normalised axes ([1, 4] for [3, 4])', async () => {
    await checkGradient({
      label: 'LayerNorm broadcast scale',
      inputs: { x: { shape: [2, 3, 4] }, s: { shape: [1, 4] }, bias: { shape: [4] } },
      build: (b, x) => b.op('LayerNormalization', [x.x!, x.s!, x.bias!], { axis: 1 }),
      wrt: ['x', 's', 'bias'],
    });
  });
  it("float32: reads the forward node's own Mean / InvStdDev instead of recomputing them", async () => {
    const r = await checkGradient({
      label: 'LayerNorm forward statistics',
      dtype: F,
      eps: 3e-3,
      inputs: { x: { shape: [2, 3, 6], min: -2, max: 2 }, s: { shape: [6] }, bias: { shape: [6] } },
      build: (b, x) => b.op('LayerNormalization', [x.x!, x.s!, x.bias!], { axis: -1, epsilon: f(1e-5) }),
      wrt: ['x', 's', 'bias'],
    });
    const ln = r.vjpModel.graph.nodes.find((n) => n.opType === 'LayerNormalization')!;
    expect(ln.outputs.filter(Boolean).length).toBe(3);
    // only the two means of the input-gradient formula; no statistics of x
    expect(r.report.emittedOps['ReduceMean']).toBe(2);
  });
  it('Mean and InvStdDev outputs differentiated too', async () => {
    const r = await checkGradient({
      label: 'LayerNorm with stats outputs',
      // Mean/InvStdDev come out in float32 (stash_type): float32 check
      dtype: F,
      eps: 3e-3,
      inputs: { x: { shape: [3, 5], min: -2, max: 2 }, s: { shape: [5] }, bias: { shape: [5] } },
      build: (b, x) => b.opN('LayerNormalization', [x.x!, x.s!, x.bias!], { axis: -1, epsilon: f(1e-3) }, { outputs: 3 }),
      wrt: ['x', 's', 'bias'],
    });
    expect(r.report.differentiatedOutputs.length).toBe(3);
  });
});

describe('GroupNormalization gradient (finite differences, float64)', () => {
  it('opset 18: scale and bias per group ([G])', async () => {
    const r = await checkGradient({
      label: 'GroupNorm-18',
      opset: 18,
      inputs: { x: { shape: [2, 4, 3, 2], min: -2, max: 2 }, s: { shape: [2] }, bias: { shape: [2] } },
      build: (b, x) => b.op('GroupNormalization', [x.x!, x.s!, x.bias!], { num_groups: 2, epsilon: f(1e-3) }),
      wrt: ['x', 's', 'bias'],
    });
    expect(r.checks.length).toBe(3);
  });
  it('opset 21: scale and bias per channel ([C]), double statistics', async () => {
    const r = await checkGradient({
      label: 'GroupNorm-21',
      opset: 21,
      inputs: { x: { shape: [2, 6, 2, 2], min: -2, max: 2 }, s: { shape: [6] }, bias: { shape: [6] } },
      build: (b, x) => b.op('GroupNormalization', [x.x!, x.s!, x.bias!], { num_groups: 3, epsilon: f(1e-5), stash_type: DataType.DOUBLE }),
      wrt: ['x', 's', 'bias'],
    });
    expect(r.checks.length).toBe(3);
  });
  it('opset 21, float32 statistics (default stash_type), 3-D input', async () => {
    await checkGradient({
      label: 'GroupNorm-21 float',
      opset: 21,
      dtype: F,
      eps: 3e-3,
      inputs: { x: { shape: [1, 4, 5], min: -2, max: 2 }, s: { shape: [4] }, bias: { shape: [4] } },
      build: (b, x) => b.op('GroupNormalization', [x.x!, x.s!, x.bias!], { num_groups: 2 }),
      wrt: ['x', 's', 'bias'],
    });
  });
});
