import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { f, makeTensor, type AttrInput } from '../../../../../src/main/engine/onnx/builder.js';
import { checkGradient, type CheckGradientResult } from '../fd.js';
import { axisTaps, originalCoordinate } from '../../../../../src/main/engine/autodiff/rules/resize.js';

// onnxruntime's CPU Resize has no double kernel: float32. Resize is linear in X, so central
// differences are exact up to float32 rounding and the default float tolerance is ample.
const F = DataType.FLOAT;

interface ResizeCase {
  label: string;
  x: number[];
  attrs?: Record<string, AttrInput>;
  scales?: number[];
  sizes?: number[];
  roi?: number[];
  opset?: number;
}

async function checkResize(c: ResizeCase): Promise<CheckGradientResult> {
  const opset = c.opset ?? 17;
  return checkGradient({
    label: c.label,
    opset,
    dtype: F,
    inputs: { x: { shape: c.x } },
    build: (b, x) => {
      if (opset < 11) return b.op('Resize', [x.x!, b.initializer('scales', F, [c.scales!.length], c.scales!)], c.attrs ?? {});
      // roi became optional at opset 13; before that an empty tensor stands for "none"
      const roi = c.roi ? b.initializer('roi', F, [c.roi.length], c.roi) : opset < 13 ? b.initializer('roi', F, [0], []) : '';
      const scales = c.scales ? b.initializer('scales', F, [c.scales.length], c.scales) : '';
      const ins = [x.x!, roi, scales];
      if (c.sizes) ins.push(b.initializer('sizes', DataType.INT64, [c.sizes.length], c.sizes));
      return b.op('Resize', ins, c.attrs ?? {});
    },
    wrt: ['x'],
  });
}

describe('Resize gradient, nearest (finite differences, float32)', () => {
  it('2x, asymmetric + floor (SD UNet/VAE upsample): block sum, no MatMul', async () => {
    const r = await checkResize({
      label: 'nearest 2x asym floor',
      x: [1, 2, 3, 4],
      scales: [1, 1, 2, 2],
      attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
    });
    expect(r.report.emittedOps['ReduceSum']).toBe(1);
    expect(r.report.emittedOps['MatMul']).toBeUndefined();
  });
  it('2x with the default half_pixel + round_prefer_floor is also a block sum', async () => {
    const r = await checkResize({ label: 'nearest 2x default', x: [2, 1, 3, 3], scales: [1, 1, 2, 2], attrs: { mode: 'nearest' } });
    expect(r.report.emittedOps['MatMul']).toBeUndefined();
  });
  it('3x via sizes, asymmetric + floor', () =>
    checkResize({
      label: 'nearest 3x sizes',
      x: [1, 1, 2, 3],
      sizes: [1, 1, 6, 9],
      attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
    }));
  it('2x, asymmetric + round_prefer_ceil (not a block pattern: MatMul adjoint)', async () => {
    const r = await checkResize({
      label: 'nearest prefer ceil',
      x: [1, 1, 3, 4],
      scales: [1, 1, 2, 2],
      attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'round_prefer_ceil' },
    });
    expect(r.report.emittedOps['MatMul']).toBe(2);
  });
  it('1.5x, align_corners + ceil', () =>
    checkResize({
      label: 'nearest 1.5x',
      x: [1, 2, 4, 4],
      scales: [1, 1, 1.5, 1.5],
      attrs: { mode: 'nearest', coordinate_transformation_mode: 'align_corners', nearest_mode: 'ceil' },
    }));
  it('downsampling 0.5x, pytorch_half_pixel', () =>
    checkResize({
      label: 'nearest 0.5x',
      x: [1, 2, 6, 4],
      scales: [1, 1, 0.5, 0.5],
      attrs: { mode: 'nearest', coordinate_transformation_mode: 'pytorch_half_pixel' },
    }));
  it('tf_half_pixel_for_nn, 2x on the last axis only', () =>
    checkResize({
      label: 'nearest tf_half_pixel_for_nn',
      opset: 11,
      x: [1, 2, 3, 3],
      scales: [1, 1, 1, 2],
      attrs: { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn' },
    }));
  it('opset 10 (Resize(X, scales), asymmetric)', () =>
    checkResize({ label: 'nearest opset 10', opset: 10, x: [1, 1, 3, 3], scales: [1, 1, 2, 2], attrs: { mode: 'nearest' } }));
  it('opset 18 axes attribute: scales only for H and W', () =>
    checkResize({
      label: 'nearest axes',
      opset: 18,
      x: [1, 2, 3, 2],
      scales: [2, 3],
      attrs: { mode: 'nearest', axes: [2, 3], coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
    }));
  it('scales from a Constant node (as the torch exporter emits them)', () =>
    checkGradient({
      label: 'nearest Constant scales',
      dtype: F,
      inputs: { x: { shape: [1, 2, 3, 3] } },
      build: (b, x) => {
        const scales = b.op('Constant', [], { value: makeTensor('scales', F, [4], [1, 1, 2, 2]) });
        return b.op('Resize', [x.x!, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
      },
      wrt: ['x'],
    }));
  it('scales computed at run time: the integer ratio of the static shapes is used', () =>
    checkGradient({
      label: 'nearest runtime scales',
      dtype: F,
      inputs: { x: { shape: [1, 2, 3, 3] }, s: { shape: [4], dtype: F, data: [1, 1, 2, 2] } },
      build: (b, x) =>
        b.op('Resize', [x.x!, '', x.s!], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }),
      wrt: ['x'],
    }));
  it('resizing a channel axis (transposed MatMul path)', () =>
    checkResize({
      label: 'nearest channel axis',
      x: [1, 3, 2, 2],
      scales: [1, 1.5, 1, 1],
      attrs: { mode: 'nearest', nearest_mode: 'round_prefer_ceil' },
    }));
});

describe('Resize gradient, linear (finite differences, float32)', () => {
  const modes = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'half_pixel_symmetric'];
  for (const mode of modes) {
    it(`bilinear 2x, ${mode}`, () =>
      checkResize({
        label: `linear 2x ${mode}`,
        opset: mode === 'half_pixel_symmetric' ? 19 : 17,
        x: [1, 2, 3, 4],
        scales: [1, 1, 2, 2],
        attrs: { mode: 'linear', coordinate_transformation_mode: mode },
      }));
  }
  it('bilinear to a non-integer size via sizes, half_pixel', () =>
    checkResize({ label: 'linear sizes', x: [1, 1, 4, 5], sizes: [1, 1, 7, 3], attrs: { mode: 'linear' } }));
  it('bilinear downsampling 0.5x, align_corners', () =>
    checkResize({
      label: 'linear down',
      x: [1, 1, 6, 6],
      scales: [1, 1, 0.5, 0.5],
      attrs: { mode: 'linear', coordinate_transformation_mode: 'align_corners' },
    }));
  it('tf_crop_and_resize with a roi and extrapolation', () =>
    checkResize({
      label: 'linear crop',
      x: [1, 1, 4, 4],
      sizes: [1, 1, 5, 3],
      roi: [0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3],
      attrs: { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: f(0.5) },
    }));
  it('2-D input, both axes', () => checkResize({ label: 'linear 2-D', x: [3, 4], scales: [2, 1.5], attrs: { mode: 'linear' } }));
  it('opset 10 linear (asymmetric)', () =>
    checkResize({ label: 'linear opset 10', opset: 10, x: [1, 1, 3, 3], scales: [1, 1, 2, 2], attrs: { mode: 'linear' } }));
});

describe('Resize gradient, cubic (finite differences, float32)', () => {
  it('2x, half_pixel, a = -0.75', () =>
    checkResize({ label: 'cubic 2x', x: [1, 1, 4, 4], scales: [1, 1, 2, 2], attrs: { mode: 'cubic' } }));
  it('1.5x, align_corners, a = -0.5, exclude_outside', () =>
    checkResize({
      label: 'cubic exclude',
      x: [1, 2, 4, 5],
      scales: [1, 1, 1.5, 1.5],
      attrs: { mode: 'cubic', coordinate_transformation_mode: 'align_corners', cubic_coeff_a: f(-0.5), exclude_outside: 1 },
    }));
});

describe('Resize rule internals', () => {
  it('coordinate transforms follow the ONNX formulas', () => {
    const a = { scale: 2, inLen: 4, outLen: 8, roiStart: 0, roiEnd: 1 };
    expect(originalCoordinate('asymmetric', 3, a)).toBe(1.5);
    expect(originalCoordinate('half_pixel', 0, a)).toBe(-0.25);
    expect(originalCoordinate('align_corners', 7, a)).toBe(3);
    expect(originalCoordinate('pytorch_half_pixel', 1, { ...a, outLen: 1 })).toBe(0);
  });
  it('linear taps sum to one and clamp at the edges', () => {
    const taps = axisTaps(
      { mode: 'linear', coord: 'half_pixel', nearestMode: 'round_prefer_floor', cubicA: -0.75, excludeOutside: false, extrapolate: false },
      { scale: 2, inLen: 3, outLen: 6, roiStart: 0, roiEnd: 1 },
    );
    for (const t of taps) expect(t.reduce((s, [, w]) => s + w, 0)).toBeCloseTo(1, 6);
    expect(taps[0]).toEqual([[0, 1]]);
    expect(taps[1]).toEqual([
      [0, 0.75],
      [1, 0.25],
    ]);
  });
});
