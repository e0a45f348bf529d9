import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { detLog, detSinCos2Pi, gaussian, philox4x32, uniform53 } from '../../../../src/main/engine/diffusion/rng.js';

/** FNV-1a 32 over the little-endian float32 bytes: pins whole arrays in one number. */
function fnv1a(a: Float32Array): number {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('philox4x32-10', () => {
  // Random123 kat_vectors, "philox4x32 10" lines: counter, key -> output.
  it.each([
    [
      [0, 0, 0, 0],
      [0, 0],
      [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ] as const)('matches the known answer for counter %j', (ctr, key, want) => {
    expect(Array.from(philox4x32(ctr, key))).toEqual(want);
  });
});

describe('deterministic elementary functions', () => {
  it('detLog agrees with Math.log to a few ulp over (0, 1]', () => {
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const x = 1 - uniform53((i * 2654435761) >>> 0, (i * 40503 + 12345) >>> 0);
      const ref = Math.log(x);
      const err = Math.abs(detLog(x) - ref) / Math.max(Math.abs(ref), Number.MIN_VALUE);
      worst = Math.max(worst, err);
    }
    expect(worst).toBeLessThan(1e-15);
    expect(detLog(1)).toBe(0);
    expect(detLog(2 ** -53)).toBeCloseTo(-53 * Math.LN2, 13);
    expect(detLog(0.5)).toBe(-Math.LN2);
  });

  it('detSinCos2Pi agrees with Math.sin/cos and hits the quadrant points exactly', () => {
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const u = i / 20000 + 1e-6;
      const [s, c] = detSinCos2Pi(u);
      worst = Math.max(worst, Math.abs(s - Math.sin(2 * Math.PI * u)), Math.abs(c - Math.cos(2 * Math.PI * u)));
    }
    expect(worst).toBeLessThan(2e-15);
    expect(detSinCos2Pi(0)).toEqual([0, 1]);
    expect(detSinCos2Pi(0.25)).toEqual([1, -0]);
    expect(detSinCos2Pi(0.5)).toEqual([-0, -1]);
    expect(detSinCos2Pi(0.75)).toEqual([-1, 0]);
  });
});

describe('gaussian', () => {
  it('pins the first values of seed 0 (same bits as the Python reference in docs/rng.md)', () => {
    const g = gaussian(0, 8);
    expect(bits(g)).toEqual([3183036911, 3212879913, 3211559004, 3223376956, 1040215919, 1042097459, 3216132736, 3213468316]);
    expect(g[0]).toBeCloseTo(-0.09047305, 7);
    expect(g[3]).toBeCloseTo(-2.5129538, 6);
  });

  it('pins whole arrays (hashes computed with the Python reference)', () => {
    expect(fnv1a(gaussian(42, 4 * 64 * 64)).toString(16)).toBe('42f9900b');
    expect(fnv1a(gaussian(2 ** 40 + 7, 1001, 3)).toString(16)).toBe('50517340');
    expect(fnv1a(gaussian(123456789, 1001)).toString(16)).toBe('8ad197e2');
  });

  it('is deterministic and prefix-stable', () => {
    const a = gaussian(1234, 10001);
    const b = gaussian(1234, 10001);
    expect(bits(a)).toEqual(bits(b));
    // A shorter request is a prefix (odd lengths drop the final sine only).
    expect(bits(gaussian(1234, 777))).toEqual(bits(a.subarray(0, 777)));
  });

  it('separates seeds and streams', () => {
    const base = gaussian(5, 64);
    expect(bits(gaussian(6, 64))).not.toEqual(bits(base));
    expect(bits(gaussian(5, 64, 1))).not.toEqual(bits(base));
    expect(bits(gaussian(5 + 2 ** 32, 64))).not.toEqual(bits(base));
  });

  it('has standard-normal moments', () => {
    const n = 400000;
    const g = gaussian(2024, n);
    let mean = 0;
    for (const x of g) mean += x;
    mean /= n;
    let m2 = 0;
    let m4 = 0;
    let within1 = 0;
    for (const x of g) {
      const d = x - mean;
      m2 += d * d;
      m4 += d ** 4;
      if (Math.abs(x) < 1) within1++;
    }
    m2 /= n;
    m4 /= n;
    // 5 standard errors: se(mean) = 1/sqrt(n) = 0.0016, se(var) ~ sqrt(2/n) = 0.0022.
    expect(Math.abs(mean)).toBeLessThan(0.008);
    expect(Math.abs(m2 - 1)).toBeLessThan(0.011);
    expect(Math.abs(m4 / (m2 * m2) - 3)).toBeLessThan(0.05);
    expect(Math.abs(within1 / n - 0.6827)).toBeLessThan(0.004);
    // neighbouring values (cos/sin pair of one block) are uncorrelated
    let cross = 0;
    for (let i = 0; i + 1 < n; i += 2) cross += g[i]! * g[i + 1]!;
    expect(Math.abs(cross / (n / 2))).toBeLessThan(0.01);
  });

  it('rejects bad arguments with engine errors', () => {
    expect(() => gaussian(-1, 4)).toThrow(EngineError);
    expect(() => gaussian(1.5, 4)).toThrow(/seed/);
    expect(() => gaussian(0, -1)).toThrow(/count/);
    expect(() => gaussian(0, 4, 2 ** 53)).toThrow(/stream/);
    expect(gaussian(0, 0).length).toBe(0);
  });
});
