import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { f } from '../../../../../src/main/engine/onnx/builder.js';
import { checkGradient, type CheckGradientSpec } from '../fd.js';

const F = DataType.FLOAT;

/** Values bounded away from 0 (for Abs/Relu kinks and denominators), alternating sign. */
function awayFromZero(n: number, lo = 0.2, hi = 1.5, seed = 3): number[] {
  return Array.from({ length: n }, (_x, i) => (i % 2 ? -1 : 1) * (lo + ((i * 0.618 + seed * 0.31) % 1) * (hi - lo)));
}

async function check(spec: CheckGradientSpec): Promise<void> {
  const r = await checkGradient(spec);
  expect(r.checks.length).toBe((spec.wrt?.length ?? 0) + (spec.wrtInitializers?.length ?? 0));
}

describe('elementwise rules (finite differences, float64 unless noted)', () => {
  it('Add broadcasting both operands', () =>
    check({ inputs: { a: { shape: [2, 1, 3] }, b: { shape: [4, 1] } }, build: (b, x) => b.op('Add', [x.a!, x.b!]), wrt: ['a', 'b'] }));
  it('Add of a scalar and a tensor', () =>
    check({ inputs: { a: { shape: [] }, b: { shape: [3, 2] } }, build: (b, x) => b.op('Add', [x.a!, x.b!]), wrt: ['a', 'b'] }));
  it('Sub broadcasting', () =>
    check({ inputs: { a: { shape: [3] }, b: { shape: [2, 3] } }, build: (b, x) => b.op('Sub', [x.a!, x.b!]), wrt: ['a', 'b'] }));
  it('Mul broadcasting', () =>
    check({ inputs: { a: { shape: [2, 3, 1] }, b: { shape: [1, 4] } }, build: (b, x) => b.op('Mul', [x.a!, x.b!]), wrt: ['a', 'b'] }));
  it('Mul of a value with itself (x*x) accumulates both slots', () =>
    check({ inputs: { a: { shape: [5] } }, build: (b, x) => b.op('Mul', [x.a!, x.a!]), wrt: ['a'] }));
  it('Mul by a frozen constant only differentiates the activation', () =>
    check({
      inputs: { a: { shape: [2, 3] } },
      build: (b, x) => b.op('Mul', [x.a!, b.initializer('w', DataType.DOUBLE, [3], [0.5, -2, 3])]),
      wrt: ['a'],
    }));
  it('Div broadcasting (numerator and denominator)', () =>
    check({
      inputs: { a: { shape: [2, 3] }, b: { shape: [3], data: [0.7, -1.3, 1.1] } },
      build: (b, x) => b.op('Div', [x.a!, x.b!]),
      wrt: ['a', 'b'],
    }));
  it('Pow by constant exponents 2, 3, 0.5 and -1', async () => {
    for (const e of [2, 3, 0.5, -1]) {
      await check({
        label: `Pow ${e}`,
        inputs: { a: { shape: [2, 3], min: 0.5, max: 2 } },
        build: (b, x) => b.op('Pow', [x.a!, b.scalar(e, DataType.DOUBLE)]),
        wrt: ['a'],
      });
    }
  });
  it('Pow with a float32 exponent on a float64 base (T1 != T2)', () =>
    check({
      inputs: { a: { shape: [4], min: 0.5, max: 2 } },
      build: (b, x) => b.op('Pow', [x.a!, b.scalar(2, DataType.FLOAT)]),
      wrt: ['a'],
    }));
  it('Pow with a tensor exponent (base and exponent differentiated, broadcast)', () =>
    check({
      inputs: { a: { shape: [2, 3], min: 0.5, max: 2 }, e: { shape: [3], min: -1, max: 2 } },
      build: (b, x) => b.op('Pow', [x.a!, x.e!]),
      wrt: ['a', 'e'],
    }));
  it('Sqrt', () => check({ inputs: { a: { shape: [6], min: 0.3, max: 2 } }, build: (b, x) => b.op('Sqrt', [x.a!]), wrt: ['a'] }));
  it('Exp', () => check({ inputs: { a: { shape: [6] } }, build: (b, x) => b.op('Exp', [x.a!]), wrt: ['a'] }));
  it('Log', () => check({ inputs: { a: { shape: [6], min: 0.3, max: 2 } }, build: (b, x) => b.op('Log', [x.a!]), wrt: ['a'] }));
  it('Neg', () => check({ inputs: { a: { shape: [2, 2] } }, build: (b, x) => b.op('Neg', [x.a!]), wrt: ['a'] }));
  it('Abs (away from the kink)', () =>
    check({ inputs: { a: { shape: [6], data: awayFromZero(6) } }, build: (b, x) => b.op('Abs', [x.a!]), wrt: ['a'] }));
  it('Reciprocal', () =>
    check({ inputs: { a: { shape: [6], data: awayFromZero(6, 0.5) } }, build: (b, x) => b.op('Reciprocal', [x.a!]), wrt: ['a'] }));
  it('Erf (float32: no double kernel)', () =>
    check({ dtype: F, inputs: { a: { shape: [8], min: -2, max: 2 } }, build: (b, x) => b.op('Erf', [x.a!]), wrt: ['a'] }));
  it('Sigmoid', () => check({ inputs: { a: { shape: [6], min: -3, max: 3 } }, build: (b, x) => b.op('Sigmoid', [x.a!]), wrt: ['a'] }));
  it('Tanh', () => check({ inputs: { a: { shape: [6], min: -2, max: 2 } }, build: (b, x) => b.op('Tanh', [x.a!]), wrt: ['a'] }));
  it('Relu (away from the kink)', () =>
    check({ inputs: { a: { shape: [8], data: awayFromZero(8) } }, build: (b, x) => b.op('Relu', [x.a!]), wrt: ['a'] }));
  it('LeakyRelu with alpha', () =>
    check({
      dtype: F,
      inputs: { a: { shape: [8], data: awayFromZero(8) } },
      build: (b, x) => b.op('LeakyRelu', [x.a!], { alpha: f(0.2) }),
      wrt: ['a'],
    }));
  it('Softplus', () =>
    check({ dtype: F, inputs: { a: { shape: [6], min: -2, max: 2 } }, build: (b, x) => b.op('Softplus', [x.a!]), wrt: ['a'] }));
  it('Cos and Sin', async () => {
    await check({ inputs: { a: { shape: [6], min: -3, max: 3 } }, build: (b, x) => b.op('Cos', [x.a!]), wrt: ['a'] });
    await check({ inputs: { a: { shape: [6], min: -3, max: 3 } }, build: (b, x) => b.op('Sin', [x.a!]), wrt: ['a'] });
  });
  it('Max of three broadcast operands', () =>
    check({
      inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, c: { shape: [2, 1] } },
      build: (b, x) => b.op('Max', [x.a!, x.b!, x.c!]),
      wrt: ['a', 'b', 'c'],
    }));
  it('Min of two operands', () =>
    check({ inputs: { a: { shape: [2, 3] }, b: { shape: [2, 3] } }, build: (b, x) => b.op('Min', [x.a!, x.b!]), wrt: ['a', 'b'] }));
  it('Max ties share the gradient equally', async () => {
    // max(a, a) == a: each slot gets half, the total is exactly g
    await check({ inputs: { a: { shape: [4] } }, build: (b, x) => b.op('Max', [x.a!, x.a!]), wrt: ['a'] });
  });
  it('Clip with min and max inputs (x, min, max differentiated)', () =>
    check({
      inputs: {
        a: { shape: [8], data: [-1.2, -0.7, -0.2, 0.1, 0.35, 0.6, 0.9, 1.4] },
        lo: { shape: [], data: [-0.5] },
        hi: { shape: [], data: [0.5] },
      },
      build: (b, x) => b.op('Clip', [x.a!, x.lo!, x.hi!]),
      wrt: ['a', 'lo', 'hi'],
    }));
  it('Clip with only a max (min omitted)', () =>
    check({
      dtype: F,
      inputs: { a: { shape: [6], data: [-1.2, -0.7, -0.2, 0.1, 0.7, 1.4] } },
      build: (b, x) => b.op('Clip', [x.a!, '', b.scalar(0.5, F)]),
      wrt: ['a'],
    }));
  it('Where routes the gradient to the selected branch (broadcast branches)', () =>
    check({
      inputs: { c: { shape: [2, 3], dtype: DataType.BOOL, data: [1, 0, 1, 0, 0, 1] }, a: { shape: [2, 3] }, b: { shape: [3] } },
      build: (b, x) => b.op('Where', [x.c!, x.a!, x.b!]),
      wrt: ['a', 'b'],
    }));
  it('Where with a scalar branch', () =>
    check({
      inputs: { c: { shape: [4], dtype: DataType.BOOL, data: [1, 0, 0, 1] }, a: { shape: [] } },
      build: (b, x) => b.op('Where', [x.c!, x.a!, b.scalar(-1, DataType.DOUBLE)]),
      wrt: ['a'],
    }));
  it('Cast float64 -> float32 -> float64 passes the gradient through both casts', () =>
    check({
      inputs: { a: { shape: [5] } },
      build: (b, x) => b.cast(b.op('Mul', [b.cast(x.a!, F), b.scalar(3, F)]), DataType.DOUBLE),
      wrt: ['a'],
      eps: 1e-2, // the function is linear: a large step is exact and survives float32 rounding
      rtol: 1e-5,
    }));
  it('Identity, Dropout (inference), Sum and Mean', async () => {
    await check({ inputs: { a: { shape: [3] } }, build: (b, x) => b.op('Identity', [b.op('Dropout', [x.a!])]), wrt: ['a'] });
    await check({
      dtype: F, // Mean has no double kernel
      inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, c: { shape: [1] } },
      build: (b, x) => [b.op('Sum', [x.a!, x.b!, x.c!]), b.op('Mean', [x.a!, x.b!])],
      wrt: ['a', 'b', 'c'],
    });
  });
  it('a value used by several consumers accumulates their gradients', () =>
    check({
      inputs: { a: { shape: [2, 3] } },
      build: (b, x) => {
        const e = b.op('Exp', [x.a!]);
        return b.op('Add', [b.op('Mul', [e, x.a!]), b.op('Sin', [e])]);
      },
      wrt: ['a'],
    }));
});
