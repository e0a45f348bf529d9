import { describe, expect, it } from 'vitest';
import { perplexities } from '../../../../src/main/engine/metrics/perplexity.js';
import { createShapesLm, trainShapesLm } from '../../../../src/main/engine/models/shapes/lm/index.js';

describe('perplexity', () => {
  it('is exp of the mean token NLL, per text', async () => {
    // A "model" giving each text a known mean NLL: ln 4 -> 4, 0 -> 1, ln 80.7 -> 80.7.
    const lm = { meanNll: async (t: string[]) => t.map((x) => ({ four: Math.log(4), one: 0, paper: Math.log(80.7) })[x as 'four']!) };
    const p = await perplexities(lm, ['four', 'one', 'paper']);
    expect(p[0]).toBeCloseTo(4, 10);
    expect(p[1]).toBe(1);
    expect(p[2]).toBeCloseTo(80.7, 8);
  });

  it('under the shapes world LM, a caption in the grammar is far more fluent than its words shuffled', async () => {
    const lm = createShapesLm(trainShapesLm({ captions: 2000 }));
    const [fluent, salad] = await perplexities(lm, [
      'a large red circle on the left on a gray background',
      'circle gray left the red on large a background on a',
    ]);
    expect(fluent).toBeLessThan(3);
    expect(salad! / fluent!).toBeGreaterThan(10);
  });
});
