import { describe, it, expect } from 'vitest';
import { checkGradient } from '../fd.js';

async function check(op: 'Softmax' | 'LogSoftmax', shape: number[], opset: number, axis?: number): Promise<void> {
  const r = await checkGradient({
    label: `${op} opset ${opset} axis ${axis ?? 'default'}`,
    opset,
    inputs: { x: { shape, min: -2, max: 2 } },
    build: (b, x) => b.op(op, [x.x!], axis === undefined ? {} : { axis }),
    wrt: ['x'],
  });
  expect(r.checks[0]!.scale).toBeGreaterThan(0);
}

describe('Softmax gradient (finite differences, float64)', () => {
  it('axis -1 (attention, opset 17)', () => check('Softmax', [2, 3, 5], 17, -1));
  it('default axis at opset 13+ is the last axis', () => check('Softmax', [2, 4], 13));
  it('axis 1 at opset 13+ normalises one axis only', () => check('Softmax', [2, 3, 4], 17, 1));
  it('axis 1 at opset 11 normalises the coerced 2-D rows (axes 1..end)', () => check('Softmax', [2, 3, 4], 11, 1));
  it('default axis at opset 11 is 1 (coerced)', () => check('Softmax', [2, 3, 2], 11));
  it('4-D attention probabilities, axis 3', () => check('Softmax', [1, 2, 3, 4], 14, 3));
});

describe('LogSoftmax gradient (finite differences, float64)', () => {
  it('axis -1', () => check('LogSoftmax', [3, 5], 17, -1));
  it('axis 1 at opset 13+', () => check('LogSoftmax', [2, 3, 4], 13, 1));
  it('axis 1 at opset 11 (coerced)', () => check('LogSoftmax', [2, 3, 4], 11, 1));
});
