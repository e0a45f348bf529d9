/**
 * Seeded Gaussian noise that is bit-identical across runs, machines, operating systems and JS
 * engines, so "same seed + same settings = same image" holds everywhere. docs/rng.md has the
 * full specification and a Python reference implementation that reproduces it bit for bit.
 *
 * Algorithm (version 1):
 *  1. Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), a
 *     counter-based generator: key = (seed mod 2^32, floor(seed / 2^32)), counter for block b
 *     of stream s = (b mod 2^32, floor(b / 2^32), s mod 2^32, floor(s / 2^32)).
 *     Each block yields four uint32 words w0..w3.
 *  2. Two uniforms in [0, 1) with 53 random bits each:
 *     u1 = ((w0 >>> 5) * 2^26 + (w1 >>> 6)) * 2^-53, u2 likewise from (w2, w3).
 *  3. Box-Muller in float64: r = sqrt(-2 ln(1 - u1)), theta = 2 pi u2;
 *     output[2b] = float32(r cos theta), output[2b+1] = float32(r sin theta).
 *     (An odd count drops the last sine.)
 *  ln, sin and cos are computed here with +, -, *, / and sqrt only (all correctly rounded by
 *  IEEE 754), never with Math.log/sin/cos, whose last bit is implementation-defined. That is
 *  what makes the output identical on every platform.
 *
 * Streams let one seed feed independent noise sources (the initial latent uses stream 0; the
 * samplers' per-step noise uses stream 1 + step), and counter-based blocks mean any slice of a
 * stream can be generated without the ones before it.
 */
import { EngineError } from '../errors.js';

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const TWO_32 = 0x100000000;

/** High 32 bits of the 64-bit product of two uint32 values (exact; 16-bit limbs). */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 0x10000)) >>> 0;
}

/**
 * Philox4x32 with `rounds` rounds (10 is the standard, crush-resistant variant) on one counter
 * block. Writes the four output words into `out` (uint32 values).
 */
export function philox4x32(
  ctr: readonly [number, number, number, number],
  key: readonly [number, number],
  rounds = 10,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** 53-bit uniform in [0, 1) from two uint32 words (top 27 bits of a, top 26 of b). */
export function uniform53(a: number, b: number): number {
  return ((a >>> 5) * 67108864 + (b >>> 6)) * 1.1102230246251565e-16; // 2^26, 2^-53
}

// ---- elementary functions from IEEE-exact operations only ----

const LN2_HI = 6.9314718036912381649e-1; // ln 2 rounded to 32 significant bits: e * LN2_HI is exact
const LN2_LO = 1.90821492927058770002e-10; // ln 2 - LN2_HI
const ATANH_TERMS = 13; // |s| <= 0.1716: s^26/27 < 1e-21
const INV_ODD = Array.from({ length: ATANH_TERMS }, (_, k) => 1 / (2 * k + 1));
const f64 = new DataView(new ArrayBuffer(8));

/**
 * Natural logarithm of a positive normal float64, via x = m * 2^e with m in (sqrt(1/2), sqrt(2)]
 * and ln m = 2 atanh(s), s = (m - 1) / (m + 1), summed as a 13-term odd series.
 * Within ~2 ulp of the true value; exactly reproducible anywhere.
 */
export function detLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x) || x < 2.2250738585072014e-308)
    throw new RangeError(`detLog needs a positive normal number (got ${x})`);
  f64.setFloat64(0, x);
  const hi = f64.getUint32(0);
  let e = ((hi >>> 20) & 0x7ff) - 1023;
  f64.setUint32(0, (hi & 0x000fffff) | 0x3ff00000);
  let m = f64.getFloat64(0); // [1, 2)
  if (m > Math.SQRT2) {
    m *= 0.5;
    e += 1;
  }
  const f = m - 1; // exact (Sterbenz)
  const s = f / (2 + f);
  const s2 = s * s;
  let p = INV_ODD[ATANH_TERMS - 1]!;
  for (let k = ATANH_TERMS - 2; k >= 0; k--) p = p * s2 + INV_ODD[k]!;
  return e * LN2_HI + (e * LN2_LO + 2 * s * p);
}

function factorial(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}
// Taylor coefficients on |y| <= pi/4: sin to y^19, cos to y^20 (remainders < 1e-22).
const SIN_C = Array.from({ length: 10 }, (_, k) => (k % 2 === 0 ? 1 : -1) / factorial(2 * k + 1));
const COS_C = Array.from({ length: 11 }, (_, k) => (k % 2 === 0 ? 1 : -1) / factorial(2 * k));
const HALF_PI = Math.PI / 2;

/**
 * [sin(2 pi u), cos(2 pi u)] for u in [0, 1): exact quadrant reduction on u itself
 * (u*4 = q + f), reflection to f <= 1/2, then Taylor polynomials on y = f * pi/2 in [0, pi/4].
 */
export function detSinCos2Pi(u: number): [number, number] {
  const w = u * 4;
  const q = Math.floor(w);
  let f = w - q;
  const swap = f > 0.5;
  if (swap) f = 1 - f;
  const y = f * HALF_PI;
  const y2 = y * y;
  let sp = SIN_C[SIN_C.length - 1]!;
  for (let k = SIN_C.length - 2; k >= 0; k--) sp = sp * y2 + SIN_C[k]!;
  let cp = COS_C[COS_C.length - 1]!;
  for (let k = COS_C.length - 2; k >= 0; k--) cp = cp * y2 + COS_C[k]!;
  let s = y * sp;
  let c = cp;
  if (swap) [s, c] = [c, s];
  switch (q & 3) {
    case 0:
      return [s, c];
    case 1:
      return [c, -s];
    case 2:
      return [-s, -c];
    default:
      return [-c, s];
  }
}

function checkIndex(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new EngineError('INVALID_ARGUMENT', `${what} must be an integer between 0 and 2^53-1 (got ${v}).`);
}

/**
 * `count` standard-normal float32 values for (seed, stream); see the file comment for the exact
 * algorithm. seed and stream: integers in [0, 2^53). The same arguments always give the same bits.
 */
export function gaussian(seed: number, count: number, stream = 0): Float32Array {
  checkIndex('seed', seed);
  checkIndex('stream', stream);
  if (!Number.isSafeInteger(count) || count < 0)
    throw new EngineError('INVALID_ARGUMENT', `count must be a non-negative integer (got ${count}).`);
  const out = new Float32Array(count);
  const key: [number, number] = [seed % TWO_32, Math.floor(seed / TWO_32)];
  const ctr: [number, number, number, number] = [0, 0, stream % TWO_32, Math.floor(stream / TWO_32)];
  const w = new Uint32Array(4);
  const blocks = Math.ceil(count / 2);
  for (let b = 0; b < blocks; b++) {
    ctr[0] = b % TWO_32;
    ctr[1] = Math.floor(b / TWO_32);
    philox4x32(ctr, key, 10, w);
    const u1 = uniform53(w[0]!, w[1]!);
    const u2 = uniform53(w[2]!, w[3]!);
    const r = Math.sqrt(-2 * detLog(1 - u1));
    const [s, c] = detSinCos2Pi(u2);
    out[2 * b] = r * c;
    if (2 * b + 1 < count) out[2 * b + 1] = r * s;
  }
  return out;
}

/** Version of the noise algorithm above; recorded in image metadata so old seeds stay reproducible. */
export const RNG_VERSION = 'philox4x32-10/box-muller-f64/v1';
