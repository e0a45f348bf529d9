import { describe, expect, it } from 'vitest';
import { AdamW } from '../../../../src/main/engine/inversion/optimiser.js';
import { constantLr, cyclicLr } from '../../../../src/main/engine/inversion/lr-schedule.js';
import { positionMask, refine, type Objective } from '../../../../src/main/engine/inversion/refine.js';

const tokens = 4;
const dim = 3;
const target = Float32Array.from({ length: tokens * dim }, (_, i) => Math.sin(i));

const quadratic: Objective = {
  name: 'quadratic',
  async lossAndGrad(c) {
    let loss = 0;
    const grad = new Float32Array(c.length);
    for (let i = 0; i < c.length; i++) {
      const d = c[i]! - target[i]!;
      loss += d * d;
      grad[i] = 2 * d;
    }
    return { loss, grad };
  },
};

describe('refinement loop', () => {
  it('lowers the loss, snapshots every N iterations and leaves BOS alone', async () => {
    const c0 = new Float32Array(tokens * dim);
    const mask = positionMask(tokens, dim, 3, false);
    const res = await refine(c0, quadratic, {
      iterations: 200,
      optimiser: new AdamW(c0.length),
      lr: cyclicLr({ base: 0.05, max: 0.1, stepsUp: 50, stepsDown: 50 }),
      mask,
      snapshotEvery: 50,
    });
    expect(res.losses).toHaveLength(200);
    expect(res.losses[199]!).toBeLessThan(res.losses[0]! / 2);
    expect(res.snapshots.map((s) => s.iteration)).toEqual([0, 50, 100, 150, 200]);
    expect(res.best.embedding.slice(0, dim)).toEqual(new Float32Array(dim));
    expect(res.best.embedding.slice(3 * dim)).toEqual(new Float32Array(dim));
    expect(c0.every((v) => v === 0)).toBe(true);
  });

  it('returns the best so far when cancelled', async () => {
    const ac = new AbortController();
    const c0 = new Float32Array(tokens * dim);
    const res = await refine(c0, quadratic, {
      iterations: 1000,
      optimiser: new AdamW(c0.length),
      lr: constantLr(0.05),
      mask: positionMask(tokens, dim, tokens, true),
      signal: ac.signal,
      onIteration: (i) => {
        if (i === 30) ac.abort();
      },
    });
    expect(res.stopped).toBe('cancelled');
    expect(res.iterations).toBe(30);
    expect(res.best.loss).toBeLessThan(res.losses[0]!);
  });

  it('stops on a non-finite loss and keeps the best embedding', async () => {
    let n = 0;
    const exploding: Objective = {
      name: 'pixel',
      async lossAndGrad(c, it) {
        n++;
        if (it === 5) return { loss: NaN, grad: new Float32Array(c.length) };
        return quadratic.lossAndGrad(c, it);
      },
    };
    const c0 = new Float32Array(tokens * dim);
    const res = await refine(c0, exploding, {
      iterations: 100,
      optimiser: new AdamW(c0.length),
      lr: constantLr(0.05),
      mask: positionMask(tokens, dim, tokens, true),
    });
    expect(n).toBe(6);
    expect(res.stopped).toBe('non-finite');
    expect(res.message).toMatch(/NaN at iteration 5/);
    expect(Number.isFinite(res.best.loss)).toBe(true);
  });
});
