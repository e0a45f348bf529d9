import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { checkGradient } from '../fd.js';

async function check(shape: number[], upper: number, k?: number): Promise<void> {
  const r = await checkGradient({
    label: `Trilu upper=${upper} k=${k ?? 'none'}`,
    inputs: { x: { shape } },
    build: (b, x) => b.op('Trilu', k === undefined ? [x.x!] : [x.x!, b.initializer('k', DataType.INT64, [], [k])], { upper }),
    wrt: ['x'],
  });
  expect(r.report.emittedOps['Trilu']).toBe(1);
}

describe('Trilu gradient (finite differences, float64)', () => {
  it('lower triangle (causal mask), batched', () => check([2, 4, 4], 0));
  it('upper triangle', () => check([3, 3], 1));
  it('upper with diagonal offset k=1 on a non-square matrix', () => check([3, 5], 1, 1));
  it('lower with negative offset k=-1', () => check([2, 4, 3], 0, -1));
});
