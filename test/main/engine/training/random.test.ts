import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../../../src/main/engine/training/random.js';

describe('RandomStream', () => {
  it('is a pure function of (seed, key) and continues exactly from a saved state', () => {
    const a = new RandomStream(42, 'data');
    const b = new RandomStream(42, 'data');
    expect(Array.from({ length: 5 }, () => a.nextU32())).toEqual(Array.from({ length: 5 }, () => b.nextU32()));
    a.normal(); // leaves a spare normal in the state
    const saved = JSON.parse(JSON.stringify(a.state)) as RandomStream['state'];
    const next = [a.normal(), a.uniform(), a.int(10), a.normal()];
    const resumed = RandomStream.fromState(saved);
    expect([resumed.normal(), resumed.uniform(), resumed.int(10), resumed.normal()]).toEqual(next);
    expect(new RandomStream(42, 'other').nextU32()).not.toBe(new RandomStream(42, 'data').nextU32());
  });

  it('draws uniforms in [0, 1) and standard normals', () => {
    const r = new RandomStream(1);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });
});
