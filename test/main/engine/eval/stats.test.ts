import { describe, expect, it } from 'vitest';
import { summarise, tQuantile975 } from '../../../../src/main/engine/eval/stats.js';
import { parseCsv, toCsv } from '../../../../src/main/engine/eval/csv.js';

describe('means with 95% intervals', () => {
  it('mean ± t(0.975, n-1) s / sqrt(n), by hand', () => {
    // 1, 2, 3, 4: mean 2.5, s = sqrt(5/3) = 1.29099, t(3) = 3.182 -> 3.182 * 1.29099 / 2 = 2.05397.
    const s = summarise([1, 2, 3, 4]);
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.sd).toBeCloseTo(Math.sqrt(5 / 3), 10);
    expect(s.ci95).toBeCloseTo((3.182 * Math.sqrt(5 / 3)) / 2, 10);
  });

  it('leaves out missing and infinite values (counting the infinite), and has no interval for one value', () => {
    const s = summarise([2, null, undefined, Infinity, NaN]);
    expect(s).toMatchObject({ n: 1, mean: 2, infinite: 1 });
    expect(s.ci95).toBeNaN();
    expect(summarise([]).mean).toBeNaN();
  });

  it('t quantiles: the table, then close to the normal 1.96', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(120)).toBeCloseTo(1.9799, 3);
    expect(tQuantile975(1e6)).toBeCloseTo(1.96, 3);
  });
});

describe('CSV', () => {
  it('round-trips quotes, commas and line breaks (RFC 4180)', () => {
    const rows = [
      ['image', 'prompt'],
      ['a.png', 'a cat, on a "sofa"'],
      ['b.png', 'two\nlines'],
      ['c.png', ''],
    ];
    const text = toCsv(rows);
    expect(text).toBe('image,prompt\na.png,"a cat, on a ""sofa"""\nb.png,"two\nlines"\nc.png,\n');
    expect(parseCsv(text)).toEqual(rows);
    expect(parseCsv('\ufeffx,y\r\n1,2\r\n')).toEqual([
      ['x', 'y'],
      ['1', '2'],
    ]);
    expect(toCsv([[1.5, null, undefined, 'x']])).toBe('1.5,,,x\n');
  });
});
