/**
 * Seeded weight generator for the demo models.
 *
 * Each tensor draws from its own stream, keyed by (seed, tensor name), so adding or reordering
 * layers never changes the weights of the others and a model is reproducible from its seed alone.
 * The generator is local (not diffusion/rng.ts) on purpose: the demo weights must not change when
 * the sampling noise RNG evolves. Only integer arithmetic, Math.log, Math.sqrt and Math.cos are
 * used; V8 implements those identically on every platform, so weights are bit-identical everywhere.
 */

/** 32-bit FNV-1a of a string, mixed with a seed. */
function hashKey(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** A mulberry32 stream of uniforms in (0, 1). */
export class Stream {
  private state: number;
  constructor(seed: number, key: string) {
    this.state = hashKey(seed, key);
  }
  /** Uniform in the open interval (0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return u === 0 ? 2 ** -33 : u;
  }
  /** Standard normal (Box-Muller, cosine branch only: one draw per call keeps the stream simple). */
  normal(): number {
    const u1 = this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** `count` normal values with standard deviation `std`, from the stream (seed, key). */
export function normals(seed: number, key: string, count: number, std = 1): Float32Array {
  const s = new Stream(seed, key);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = s.normal() * std;
  return out;
}

/** `count` uniforms in [lo, hi) from the stream (seed, key). */
export function uniforms(seed: number, key: string, count: number, lo = 0, hi = 1): Float32Array {
  const s = new Stream(seed, key);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + (hi - lo) * s.uniform();
  return out;
}
