import { describe, expect, it } from 'vitest';
import { gatherRows, normaliseRows, projectToVocabulary } from '../../../../../src/main/engine/inversion/methods/projection.js';
import {
  defaultVocabulary,
  optimiseProjectedPrompt,
  printableVocabulary,
} from '../../../../../src/main/engine/inversion/methods/projected-prompt.js';
import { Lbfgs } from '../../../../../src/main/engine/inversion/methods/lbfgs.js';
import { Sgd } from '../../../../../src/main/engine/inversion/optimiser.js';

// A 2-D vocabulary: 0 = (1, 0), 1 = (0, 2), 2 = (-3, 0), 3 = (1, 1).
const TABLE = Float32Array.of(1, 0, 0, 2, -3, 0, 1, 1);

describe('nearest-vocabulary projection', () => {
  it('normalises rows to unit length and leaves zero rows at zero', () => {
    const u = normaliseRows(Float32Array.of(3, 4, 0, 0), 2);
    expect(Array.from(u)).toEqual([0.6, 0.8, 0, 0].map((v) => Math.fround(v)));
  });

  it('picks the row of highest cosine, not of smallest distance or largest dot product', () => {
    const unit = normaliseRows(TABLE, 2);
    // (0.9, 0.1): cosines 0.994 (row 0), 0.110 (row 1), -0.994 (row 2), 0.781 (row 3) -> row 0.
    // (10, 12): cosines 0.640, 0.768, -0.640, 0.996 -> row 3.
    // (-0.1, 5): cosines -0.020, 0.9998, 0.020, 0.693 -> row 1.
    const p = projectToVocabulary(Float32Array.of(0.9, 0.1, 10, 12, -0.1, 5), unit, 2);
    expect(Array.from(p.ids)).toEqual([0, 3, 1]);
    expect(p.cosines[0]).toBeCloseTo(0.9 / Math.hypot(0.9, 0.1), 6);
    expect(p.cosines[1]).toBeCloseTo(22 / (Math.hypot(10, 12) * Math.SQRT2), 6);
    expect(p.cosines[2]).toBeCloseTo(5 / Math.hypot(0.1, 5), 6);
    // (-0.1, 5) is at distance 3.0 from row 1 and 4.1 from row 3; (0.3, 0.3) is nearest to row 0
    // by distance (0.76) but has cosine 1 with row 3: cosine wins.
    expect(Array.from(projectToVocabulary(Float32Array.of(0.3, 0.3), unit, 2).ids)).toEqual([3]);
  });

  it('only chooses allowed ids, and breaks ties by the lowest id', () => {
    const unit = normaliseRows(TABLE, 2);
    expect(Array.from(projectToVocabulary(Float32Array.of(1, 0.01), unit, 2, [1, 2]).ids)).toEqual([1]);
    const tie = normaliseRows(Float32Array.of(0, 1, 1, 0, 1, 0), 2);
    expect(Array.from(projectToVocabulary(Float32Array.of(1, 0), tie, 2).ids)).toEqual([1]);
  });

  it('gathers rows back to back', () => {
    expect(Array.from(gatherRows(TABLE, [3, 0], 2))).toEqual([1, 1, 1, 0]);
  });
});

/** A tower over TABLE: BOS 0, EOS 1, pad 1; template [BOS, p1, p2, EOS]. */
const tower = {
  table: TABLE,
  dim: 2,
  vocabSize: 4,
  bosId: 0,
  eosId: 1,
  padId: 1,
  template: (p: ArrayLike<number>) => Int32Array.of(0, ...Array.from(p), 1),
};

describe('the delayed-projection loop', () => {
  it('never offers BOS, EOS or padding, nor (printable) tokens that are not text on their own', () => {
    expect(Array.from(defaultVocabulary(tower))).toEqual([2, 3]);
    const texts = ['<s>', '</s>', 'cat', '\uFFFD', 'a\u0003', 'dog'];
    const six = { ...tower, vocabSize: 6, table: new Float32Array(12), decode: (ids: ArrayLike<number>) => texts[ids[0]!]! };
    expect(Array.from(printableVocabulary(six))).toEqual([2, 5]);
  });

  it('evaluates the loss at the projected prompt and steps the continuous embeddings (straight through)', async () => {
    // Loss = squared distance of the embedding at position 1 to (1, 1); its gradient at the
    // projected embedding is applied to the continuous one. Start at token 2 (-3, 0).
    const seen: number[][] = [];
    const r = await optimiseProjectedPrompt({
      tower,
      length: 1,
      iterations: 3,
      optimiser: new Sgd(2),
      lr: () => 1,
      seed: 0,
      initialIds: Int32Array.of(2),
      snapshotEvery: 1,
      async lossAndGrad(ids) {
        seen.push(Array.from(ids));
        const e = TABLE.subarray(ids[1]! * 2, ids[1]! * 2 + 2);
        const grad = new Float32Array(4 * 2);
        grad[2] = 2 * (e[0]! - 1);
        grad[3] = 2 * (e[1]! - 1);
        return { loss: (e[0]! - 1) ** 2 + (e[1]! - 1) ** 2, grad };
      },
    });
    // Iteration 0 at token 2: loss 17, grad (-8, -2) -> params (-3,0) + (8, 2) = (5, 2), nearest
    // allowed by cosine: token 3 (1,1) (cos 0.92) over token 2 (cos -0.93). Iteration 1 at token 3:
    // loss 0, grad 0 -> stays.
    expect(seen).toEqual([
      [0, 2, 1],
      [0, 3, 1],
      [0, 3, 1],
    ]);
    expect(r.losses).toEqual([17, 0, 0]);
    expect(Array.from(r.best.ids)).toEqual([3]);
    expect(r.best.iteration).toBe(1);
    expect(Array.from(r.last)).toEqual([3]);
    expect(r.snapshots.map((s) => [s.iteration, s.ids[0], s.loss])).toEqual([
      [1, 2, 17],
      [2, 3, 0],
      [3, 3, 0],
    ]);
  });

  it('draws the random start from the allowed vocabulary, the same for the same seed', async () => {
    const run = (seed: number) =>
      optimiseProjectedPrompt({
        tower,
        length: 6,
        iterations: 1,
        optimiser: new Sgd(12),
        lr: () => 0,
        seed,
        lossAndGrad: async () => ({ loss: 1, grad: new Float32Array(8 * 2) }),
      });
    const a = await run(7);
    expect(Array.from(a.initialIds).every((id) => id === 2 || id === 3)).toBe(true);
    expect(Array.from((await run(7)).initialIds)).toEqual(Array.from(a.initialIds));
  });

  it('stops early on a non-finite loss, keeping the best prompt', async () => {
    let n = 0;
    const r = await optimiseProjectedPrompt({
      tower,
      length: 1,
      iterations: 5,
      optimiser: new Sgd(2),
      lr: () => 0,
      seed: 0,
      lossAndGrad: async () => ({ loss: n++ === 0 ? 2 : NaN, grad: new Float32Array(8) }),
    });
    expect(r.stopped).toBe('non-finite');
    expect(r.losses).toEqual([2]);
  });
});

describe('L-BFGS', () => {
  it('minimises a quadratic in a few steps (curvature from the gradient differences)', () => {
    // f(x) = 0.5 (4 x0² + x1²) - x0: minimum at (0.25, 0).
    const x = Float32Array.of(1, 1);
    const opt = new Lbfgs(2, { history: 5 });
    const grad = () => Float32Array.of(4 * x[0]! - 1, x[1]!);
    // First step: d = -g scaled by min(1, 1/|g|_1) = 1/4 -> x = (1 - 0.75, 1 - 0.25).
    opt.step(x, grad(), 1);
    expect(x[0]).toBeCloseTo(0.25, 6);
    expect(x[1]).toBeCloseTo(0.75, 6);
    for (let i = 0; i < 8; i++) opt.step(x, grad(), 1);
    expect(x[0]).toBeCloseTo(0.25, 4);
    expect(x[1]).toBeCloseTo(0, 4);
    expect(opt.steps).toBe(9);
  });
});
