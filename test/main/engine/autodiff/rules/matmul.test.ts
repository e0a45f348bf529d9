import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { f, type AttrInput } from '../../../../../src/main/engine/onnx/builder.js';
import { checkGradient } from '../fd.js';
import { parseEinsum } from '../../../../../src/main/engine/autodiff/rules/matmul.js';

const D = DataType.DOUBLE;

async function checkBinary(op: string, a: number[], b: number[], attrs: Record<string, AttrInput> = {}, label = op): Promise<void> {
  const r = await checkGradient({
    label,
    inputs: { a: { shape: a }, b: { shape: b } },
    build: (g, x) => g.op(op, [x.a!, x.b!], attrs),
    wrt: ['a', 'b'],
  });
  expect(r.checks.length).toBe(2);
}

describe('MatMul gradient (finite differences, float64)', () => {
  it('2-D x 2-D', () => checkBinary('MatMul', [3, 4], [4, 5]));
  it('batched activation x 2-D weight ([B,S,K] @ [K,N], CLIP/UNet linear layers)', () => checkBinary('MatMul', [2, 3, 4], [4, 5]));
  it('attention scores and values ([B,H,S,D] @ [B,H,D,S])', () => checkBinary('MatMul', [1, 2, 3, 4], [1, 2, 4, 3]));
  it('batch dims broadcast on both sides ([2,1,3,4] @ [5,4,2])', () => checkBinary('MatMul', [2, 1, 3, 4], [5, 4, 2]));
  it('2-D left operand times a batched right operand', () => checkBinary('MatMul', [3, 4], [2, 4, 5]));
  it('1-D left operand (vector @ batched matrix)', () => checkBinary('MatMul', [4], [2, 4, 5]));
  it('1-D right operand (matrix @ vector)', () => checkBinary('MatMul', [2, 3, 4], [4]));
  it('1-D @ 1-D (dot product)', () => checkBinary('MatMul', [5], [5]));
  it('opset 9 (no optional-C Gemm: batched MatMul path)', async () => {
    await checkGradient({
      label: 'MatMul opset 9',
      opset: 9,
      inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } },
      build: (g, x) => g.op('MatMul', [x.a!, x.b!]),
      wrt: ['a', 'b'],
    });
  });
  it('weight as an initializer: batch folded into 2-D Gemms, no transposed weight copy', async () => {
    const r = await checkGradient({
      label: 'MatMul weight',
      inputs: { a: { shape: [2, 3, 4] } },
      build: (g, x) =>
        g.op('MatMul', [
          x.a!,
          g.initializer(
            'w',
            D,
            [4, 5],
            Array.from({ length: 20 }, (_v, i) => Math.sin(i)),
          ),
        ]),
      wrt: ['a'],
      wrtInitializers: ['w'],
    });
    expect(r.report.emittedOps['ReduceSum']).toBeUndefined();
    expect(r.report.emittedOps['Transpose']).toBeUndefined();
    expect(r.report.emittedOps['Gemm']).toBe(2);
  });
});

describe('Gemm gradient (finite differences, float64)', () => {
  const gemm = (label: string, a: number[], b: number[], c: number[] | undefined, attrs: Record<string, AttrInput>, opset = 17) =>
    checkGradient({
      label,
      opset,
      inputs: { a: { shape: a }, b: { shape: b }, ...(c ? { c: { shape: c } } : {}) },
      build: (g, x) => g.op('Gemm', c ? [x.a!, x.b!, x.c!] : [x.a!, x.b!], attrs),
      wrt: c ? ['a', 'b', 'c'] : ['a', 'b'],
    });
  it('transB=1 with a [N] bias (torch Linear export)', () => gemm('Gemm transB', [3, 4], [5, 4], [5], { transB: 1 }));
  it('transA=1, C of shape [M,1]', () => gemm('Gemm transA', [4, 3], [4, 5], [3, 1], { transA: 1 }));
  it('transA=1, transB=1, alpha and beta', () =>
    gemm('Gemm both', [4, 3], [5, 4], [3, 5], { transA: 1, transB: 1, alpha: f(1.5), beta: f(-0.5) }));
  it('no C, alpha 0.25', () => gemm('Gemm no C', [3, 4], [4, 5], undefined, { alpha: f(0.25) }));
  it('scalar C broadcast', () => gemm('Gemm scalar C', [2, 3], [3, 4], [], { beta: f(2) }));
  it('opset 9 (C required, gradients emitted without Gemm)', async () => {
    const r = await checkGradient({
      label: 'Gemm opset 9',
      opset: 9,
      dtype: DataType.FLOAT,
      inputs: { a: { shape: [4, 3] }, b: { shape: [5, 4] }, c: { shape: [1] } },
      build: (g, x) => g.op('Gemm', [x.a!, x.b!, x.c!], { transA: 1, transB: 1, alpha: f(1.5) }),
      wrt: ['a', 'b', 'c'],
    });
    expect(r.report.emittedOps['Gemm']).toBeUndefined();
  });
});

describe('Einsum gradient (finite differences, float64)', () => {
  const einsum = async (equation: string, shapes: number[][]) => {
    const names = shapes.map((_s, i) => `x${i}`);
    const r = await checkGradient({
      label: `Einsum ${equation}`,
      inputs: Object.fromEntries(shapes.map((s, i) => [names[i]!, { shape: s }])),
      build: (g, x) =>
        g.op(
          'Einsum',
          names.map((n) => x[n]!),
          { equation },
        ),
      wrt: names,
    });
    expect(r.checks.length).toBe(shapes.length);
  };
  it('bij,bjk->bik (batched matmul)', () =>
    einsum('bij,bjk->bik', [
      [2, 3, 4],
      [2, 4, 5],
    ]));
  it('bhqk,bhkd->bhqd (attention values)', () =>
    einsum('bhqk,bhkd->bhqd', [
      [1, 2, 3, 4],
      [1, 2, 4, 5],
    ]));
  it('bhqd,bhkd->bhqk (attention scores)', () =>
    einsum('bhqd,bhkd->bhqk', [
      [1, 2, 3, 4],
      [1, 2, 5, 4],
    ]));
  it('bid,bjd->bij', () =>
    einsum('bid,bjd->bij', [
      [2, 3, 4],
      [2, 5, 4],
    ]));
  it('implicit output: ij,jk', () =>
    einsum('ij,jk', [
      [3, 4],
      [4, 5],
    ]));
  it('transpose: ij->ji', () => einsum('ij->ji', [[3, 4]]));
  it('reduction of an operand-only label: ij->i (gradient broadcast back with Expand)', () => einsum('ij->i', [[3, 4]]));
  it('outer product: i,j->ij', () => einsum('i,j->ij', [[3], [4]]));
  it('three operands: ij,jk,kl->il', () =>
    einsum('ij,jk,kl->il', [
      [2, 3],
      [3, 4],
      [4, 2],
    ]));
  it('ellipsis: ...ij,...jk->...ik', () =>
    einsum('...ij,...jk->...ik', [
      [2, 3, 3, 4],
      [2, 3, 4, 5],
    ]));
  it('ellipsis in the middle: b...d,bd->b...', () =>
    einsum('b...d,bd->b...', [
      [2, 3, 4, 5],
      [2, 5],
    ]));
  it('rejects repeated subscripts on the differentiated operand', async () => {
    await expect(einsum('ii->i', [[3, 3]])).rejects.toThrow(/repeated subscripts/);
  });
});

describe('parseEinsum', () => {
  it('expands ellipses right-aligned and orders implicit outputs', () => {
    const t = parseEinsum('...ij,jk', [4, 2]);
    expect(t.inputs).toEqual([
      ['.0', '.1', 'i', 'j'],
      ['j', 'k'],
    ]);
    expect(t.output).toEqual(['.0', '.1', 'i', 'k']);
    expect(parseEinsum('b j, b i -> i j', [2, 2]).output).toEqual(['i', 'j']);
  });
});
