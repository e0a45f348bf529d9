/**
 * Seeded, serialisable random streams for training data (batch sampling, augmentation, diffusion
 * noise and timesteps, classifier-free dropout).
 *
 * A checkpoint stores each stream's state (four uint32 words), so a resumed run draws exactly
 * the batches the interrupted run would have drawn next. The generator is xoshiro128** (Blackman
 * and Vigna) seeded through splitmix32 from (seed, key); only integer arithmetic, Math.log,
 * Math.sqrt, Math.cos and Math.sin are used (V8 computes them with its own fdlibm port, the same on
 * every platform), so a run is
 * reproducible from its seed alone.
 */
import { EngineError } from '../errors.js';

/** The serialisable state of a RandomStream. */
export type RandomState = [number, number, number, number];

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function hashString(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0) ^ Math.floor(seed / 0x100000000)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A xoshiro128** stream: uniforms, integers, normals, shuffles; `state` round-trips through JSON. */
export class RandomStream {
  private s: Uint32Array;
  /** Second normal of the last Box-Muller pair (part of the state). */
  private spare: number | null = null;

  /** @param seed any safe integer; @param key names the stream (different keys = independent streams) */
  constructor(seed: number, key = '') {
    if (!Number.isSafeInteger(seed)) throw new EngineError('INVALID_ARGUMENT', `random seed must be a safe integer, got ${seed}`);
    let x = hashString(seed, key);
    this.s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x + i);
      this.s[i] = x;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A stream continuing from a saved state. */
  static fromState(state: { words: RandomState; spare: number | null }): RandomStream {
    const r = new RandomStream(0);
    r.s = Uint32Array.from(state.words);
    r.spare = state.spare;
    return r;
  }

  /** The state to store in a checkpoint. */
  get state(): { words: RandomState; spare: number | null } {
    return { words: [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!], spare: this.spare };
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!;
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal (Box-Muller; pairs, the second kept as `spare`). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Fill `out` with normals of the given standard deviation. */
  normals(out: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * std;
    return out;
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}
