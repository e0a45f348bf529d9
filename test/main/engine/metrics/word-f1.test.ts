import { describe, expect, it } from 'vitest';
import { wordF1, words } from '../../../../src/main/engine/metrics/word-f1.js';

describe('word F1', () => {
  it('is 1 for the same words regardless of case and punctuation', () => {
    expect(wordF1('A red Cat, sleeping.', 'a red cat sleeping').f1).toBe(1);
  });
  it('counts repeated words once per occurrence', () => {
    const r = wordF1('cat cat dog', 'cat dog bird');
    expect(r.precision).toBeCloseTo(2 / 3);
    expect(r.recall).toBeCloseTo(2 / 3);
  });
  it('is 0 with no overlap and splits on punctuation', () => {
    expect(wordF1('sun', 'moon').f1).toBe(0);
    expect(words('oil-painting, 4k')).toEqual(['oil', 'painting', '4k']);
  });
});
