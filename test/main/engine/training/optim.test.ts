import { describe, expect, it } from 'vitest';
import { AdamW, clipGradNorm, Ema, learningRate } from '../../../../src/main/engine/training/optim.js';
import { ParamSet } from '../../../../src/main/engine/training/params.js';

function set(): ParamSet {
  return new ParamSet([
    { name: 'layer.weight', dims: [1, 1], values: Float32Array.of(1) },
    { name: 'layer.bias', dims: [1], values: Float32Array.of(0) },
  ]);
}

describe('AdamW', () => {
  it('matches a hand-computed update (bias correction, decoupled decay on weights only)', () => {
    // lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.01; gradients 0.5 then -0.25.
    // step 1: w = 1 * (1 - 0.001) = 0.999; m = 0.05, v = 0.00025; m^ = 0.5, v^ = 0.25
    //         w -= 0.1 * 0.5 / (0.5 + 1e-8)                                      -> 0.899000002
    // step 2: w = 0.899000002 * 0.999; m = 0.02, v = 0.00031225; m^ = 0.02 / 0.19,
    //         v^ = 0.00031225 / 0.001999; w -= 0.1 * m^ / (sqrt(v^) + 1e-8)    -> 0.871467299
    // the bias (no decay): -0.099999998 then -0.126633701
    const p = set();
    const adam = new AdamW(p, { weightDecay: 0.01 });
    adam.step(
      p,
      new Map([
        ['layer.weight', Float32Array.of(0.5)],
        ['layer.bias', Float32Array.of(0.5)],
      ]),
      0.1,
    );
    expect(p.get('layer.weight').values[0]).toBeCloseTo(0.899000002, 6);
    expect(p.get('layer.bias').values[0]).toBeCloseTo(-0.099999998, 6);
    adam.step(
      p,
      new Map([
        ['layer.weight', Float32Array.of(-0.25)],
        ['layer.bias', Float32Array.of(-0.25)],
      ]),
      0.1,
    );
    expect(p.get('layer.weight').values[0]).toBeCloseTo(0.871467299, 6);
    expect(p.get('layer.bias').values[0]).toBeCloseTo(-0.126633701, 6);
    expect(adam.t).toBe(2);
    expect(adam.m.get('layer.weight')![0]).toBeCloseTo(0.02, 7);
    expect(adam.v.get('layer.weight')![0]).toBeCloseTo(0.00031225, 9);
  });

  it('restores its state exactly', () => {
    const a = set();
    const b = set();
    const oa = new AdamW(a);
    const g = new Map([
      ['layer.weight', Float32Array.of(0.3)],
      ['layer.bias', Float32Array.of(-0.7)],
    ]);
    oa.step(a, g, 0.01);
    const ob = new AdamW(b);
    b.assign(a);
    ob.load({
      t: oa.t,
      m: new Map([...oa.m].map(([k, v]) => [k, new Float32Array(v)])),
      v: new Map([...oa.v].map(([k, v]) => [k, new Float32Array(v)])),
    });
    oa.step(a, g, 0.01);
    ob.step(b, g, 0.01);
    expect([...b.get('layer.weight').values, ...b.get('layer.bias').values]).toEqual([
      ...a.get('layer.weight').values,
      ...a.get('layer.bias').values,
    ]);
  });
});

describe('clipGradNorm', () => {
  it('scales to the maximum norm and reports the norm before', () => {
    const g = new Map([
      ['a', Float32Array.of(3, 0)],
      ['b', Float32Array.of(4)],
    ]);
    expect(clipGradNorm(g, 1)).toBeCloseTo(5, 6);
    expect(g.get('a')![0]).toBeCloseTo(0.6, 5);
    expect(g.get('b')![0]).toBeCloseTo(0.8, 5);
    const small = new Map([['a', Float32Array.of(0.1)]]);
    clipGradNorm(small, 1);
    expect(small.get('a')![0]).toBeCloseTo(0.1, 7);
  });

  it('refuses a non-finite gradient', () => {
    expect(() => clipGradNorm(new Map([['a', Float32Array.of(NaN)]]), 1)).toThrow(/diverged/);
  });
});

describe('learningRate', () => {
  it('warms up linearly, then decays by a cosine to the floor', () => {
    const o = { lr: 1, warmup: 10, total: 110, minFactor: 0.1 };
    expect(learningRate(0, o)).toBeCloseTo(0.1);
    expect(learningRate(9, o)).toBeCloseTo(1);
    expect(learningRate(10, o)).toBeCloseTo(1);
    expect(learningRate(60, o)).toBeCloseTo(0.55);
    expect(learningRate(110, o)).toBeCloseTo(0.1);
    expect(learningRate(50, { lr: 0.3, total: 100, kind: 'constant' })).toBe(0.3);
  });
});

describe('Ema', () => {
  it('averages with the warm-up decay min(d, (1 + t) / (10 + t))', () => {
    const p = new ParamSet([{ name: 'w.weight', dims: [1], values: Float32Array.of(0) }]);
    const ema = new Ema(p, 0.9);
    p.get('w.weight').values[0] = 1;
    ema.update(p); // d = 2/11
    expect(ema.shadow.get('w.weight').values[0]).toBeCloseTo(9 / 11, 6);
    for (let i = 0; i < 200; i++) ema.update(p);
    expect(ema.shadow.get('w.weight').values[0]).toBeCloseTo(1, 5);
  });
});
