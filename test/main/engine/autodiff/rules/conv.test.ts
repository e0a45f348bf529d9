import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import type { AttrInput } from '../../../../../src/main/engine/onnx/builder.js';
import { checkGradient } from '../fd.js';

// onnxruntime's CPU Conv/ConvTranspose have no double kernels: float32 with eps 1e-2. Both ops are
// linear in each argument, so central differences are exact up to float32 rounding.
const F = DataType.FLOAT;

interface ConvCase {
  label: string;
  x: number[];
  w: number[];
  bias?: boolean;
  attrs: Record<string, AttrInput>;
  op?: 'Conv' | 'ConvTranspose';
  /** Differentiate the weight and bias as initializers too (default true). */
  weights?: boolean;
}

async function checkConv(c: ConvCase): Promise<void> {
  const op = c.op ?? 'Conv';
  const weights = c.weights ?? true;
  const biasLen = op === 'Conv' ? c.w[0]! : c.w[1]! * ((c.attrs['group'] as number | undefined) ?? 1);
  const r = await checkGradient({
    label: c.label,
    dtype: F,
    inputs: { x: { shape: c.x } },
    build: (b, x) => {
      const ins = [
        x.x!,
        b.initializer(
          'w',
          F,
          c.w,
          Array.from({ length: c.w.reduce((p, q) => p * q, 1) }, (_v, i) => Math.sin(i * 1.7) * 0.8),
        ),
      ];
      if (c.bias)
        ins.push(
          b.initializer(
            'bias',
            F,
            [biasLen],
            Array.from({ length: biasLen }, (_v, i) => 0.1 * i - 0.2),
          ),
        );
      return b.op(op, ins, c.attrs);
    },
    wrt: ['x'],
    wrtInitializers: weights ? ['w', ...(c.bias ? ['bias'] : [])] : [],
  });
  expect(r.checks.map((k) => k.name)).toEqual(['x', ...(weights ? ['w', ...(c.bias ? ['bias'] : [])] : [])]);
  // The input gradient of a Conv is a convolution (a ConvTranspose when strided, else a Conv with
  // the flipped kernel), that of a ConvTranspose a Conv: never a training-only op.
  const strided = ((c.attrs['strides'] as number[] | undefined) ?? []).some((s) => s !== 1);
  expect(Object.keys(r.report.emittedOps)).toContain(op === 'Conv' && strided ? 'ConvTranspose' : 'Conv');
}

describe('Conv gradient (finite differences, float32)', () => {
  it('3x3, pads 1, stride 1, bias (SD resnet conv)', () =>
    checkConv({ label: 'conv3x3', x: [2, 3, 5, 6], w: [4, 3, 3, 3], bias: true, attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }));
  it('3x3, stride 2, pads 1 on an even input (SD downsample: needs output_padding)', () =>
    checkConv({
      label: 'conv s2',
      x: [1, 2, 8, 8],
      w: [3, 2, 3, 3],
      bias: true,
      attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    }));
  it('3x3, stride 2, pads 1 on an odd input', () =>
    checkConv({ label: 'conv s2 odd', x: [1, 2, 7, 9], w: [3, 2, 3, 3], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } }));
  it('3x3, stride 2, asymmetric pads (0,0,1,1) (VAE encoder downsample)', () =>
    checkConv({ label: 'conv asym', x: [1, 2, 8, 8], w: [2, 2, 3, 3], bias: true, attrs: { strides: [2, 2], pads: [0, 0, 1, 1] } }));
  it('1x1 projection', () => checkConv({ label: 'conv1x1', x: [2, 4, 3, 3], w: [5, 4, 1, 1], bias: true, attrs: {} }));
  it('grouped conv (2 groups) with strides, dilations and asymmetric pads', () =>
    checkConv({
      label: 'grouped',
      x: [2, 4, 7, 8],
      w: [6, 2, 3, 2],
      attrs: { group: 2, strides: [2, 3], dilations: [1, 2], pads: [1, 0, 2, 1] },
    }));
  it('depthwise conv (group = channels)', () =>
    checkConv({ label: 'depthwise', x: [1, 4, 5, 5], w: [4, 1, 3, 3], bias: true, attrs: { group: 4, pads: [1, 1, 1, 1] } }));
  it('depthwise conv with a channel multiplier and stride 2', () =>
    checkConv({ label: 'depthwise x2', x: [1, 3, 6, 6], w: [6, 1, 3, 3], attrs: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] } }));
  it('dilated 3x3 conv', () =>
    checkConv({ label: 'dilated', x: [1, 2, 7, 7], w: [2, 2, 3, 3], attrs: { dilations: [2, 2], pads: [2, 2, 2, 2] } }));
  it('auto_pad SAME_UPPER with stride 2', () =>
    checkConv({ label: 'same upper', x: [1, 2, 6, 5], w: [3, 2, 4, 3], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } }));
  it('auto_pad SAME_UPPER with stride 1 and an even kernel (asymmetric implicit pads)', () =>
    checkConv({ label: 'same upper s1', x: [1, 2, 5, 6], w: [3, 2, 4, 3], attrs: { auto_pad: 'SAME_UPPER' } }));
  it('auto_pad SAME_LOWER with stride 2', () =>
    checkConv({ label: 'same lower', x: [1, 2, 6, 5], w: [3, 2, 4, 3], attrs: { auto_pad: 'SAME_LOWER', strides: [2, 2] } }));
  it('auto_pad VALID, 1-D conv with stride 2 and bias', () =>
    checkConv({ label: 'valid 1d', x: [2, 2, 9], w: [3, 2, 3], bias: true, attrs: { auto_pad: 'VALID', strides: [2] } }));
  it('3x3, stride 1, asymmetric pads (0,1,2,1), grouped', () =>
    checkConv({ label: 'conv asym s1', x: [1, 4, 6, 7], w: [6, 2, 3, 3], bias: true, attrs: { group: 2, pads: [0, 1, 2, 1] } }));
  it('1x1 with pads beyond the kernel (the adjoint would need negative pads: ConvTranspose)', () =>
    checkConv({ label: 'conv1x1 padded', x: [1, 2, 3, 4], w: [3, 2, 1, 1], attrs: { pads: [1, 0, 1, 1] } }));
  it('frozen weights, stride 1: the input gradient is one Conv with the flipped kernel', async () => {
    const r = await checkGradient({
      label: 'frozen s1',
      dtype: F,
      inputs: { x: { shape: [1, 2, 6, 5] } },
      build: (b, x) =>
        b.op(
          'Conv',
          [
            x.x!,
            b.initializer(
              'w',
              F,
              [3, 2, 3, 2],
              Array.from({ length: 36 }, (_v, i) => Math.cos(i)),
            ),
          ],
          { pads: [1, 0, 1, 1], dilations: [1, 2] },
        ),
      wrt: ['x'],
    });
    expect(r.report.emittedOps['Conv']).toBe(1);
    expect(r.report.emittedOps).not.toHaveProperty('ConvTranspose');
  });
  it('frozen weights: only the input gradient is emitted (no weight correlation Conv)', async () => {
    const r = await checkGradient({
      label: 'frozen',
      dtype: F,
      inputs: { x: { shape: [1, 2, 6, 6] } },
      build: (b, x) =>
        b.op(
          'Conv',
          [
            x.x!,
            b.initializer(
              'w',
              F,
              [3, 2, 3, 3],
              Array.from({ length: 54 }, (_v, i) => Math.cos(i)),
            ),
          ],
          { pads: [1, 1, 1, 1], strides: [2, 2] },
        ),
      wrt: ['x'],
    });
    expect(r.report.emittedOps).not.toHaveProperty('Conv');
    expect(r.report.emittedOps['ConvTranspose']).toBe(1);
  });
});

describe('ConvTranspose gradient (finite differences, float32)', () => {
  it('stride 2, pads 1, output_padding 1, bias', () =>
    checkConv({
      label: 'convT s2',
      op: 'ConvTranspose',
      x: [1, 3, 4, 4],
      w: [3, 2, 3, 3],
      bias: true,
      attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
    }));
  it('grouped, stride (2,1), dilations (1,2)', () =>
    checkConv({
      label: 'convT grouped',
      op: 'ConvTranspose',
      x: [1, 4, 3, 4],
      w: [4, 1, 3, 2],
      bias: true,
      attrs: { group: 2, strides: [2, 1], dilations: [1, 2] },
    }));
  it('1-D, stride 3', () => checkConv({ label: 'convT 1d', op: 'ConvTranspose', x: [2, 2, 4], w: [2, 3, 2], attrs: { strides: [3] } }));
});
