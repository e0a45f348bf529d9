import { expect, it } from 'vitest';
import { linePath } from '../../../src/renderer/components/chart.js';

it('maps values into the box, top = max', () => {
  const g = linePath([3, 1, 2], 102, 52, { pad: 1 });
  expect(g.min).toBe(1);
  expect(g.max).toBe(3);
  expect(g.d).toBe('M1.0,1.0L51.0,51.0L101.0,26.0');
});

it('skips non-finite values and handles empty and single inputs', () => {
  expect(linePath([], 10, 10).d).toBe('');
  expect(linePath([Number.NaN, 5], 10, 10).count).toBe(1);
  expect(linePath([5], 10, 10).d).toMatch(/^M.*L/);
});

it('buckets long series, keeping spikes', () => {
  const v = Array.from({ length: 10_000 }, (_, i) => (i === 5000 ? 100 : 1));
  const g = linePath(v, 200, 50, { maxPoints: 100 });
  expect(g.d.split(/[ML]/).filter(Boolean).length).toBeLessThanOrEqual(100);
  expect(g.max).toBe(100);
  expect(g.d).toContain(',2.0'); // the spike reaches the top edge
});

it('plots log scale', () => {
  const g = linePath([1000, 10, 0, 0.1], 10, 10, { log: true });
  expect(g.count).toBe(3);
  expect(g.max).toBeCloseTo(1000);
  expect(g.min).toBeCloseTo(0.1);
});
