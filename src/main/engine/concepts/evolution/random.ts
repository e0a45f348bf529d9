/**
 * The evolution's random choices, reproducible from (session seed, what is being decided): each
 * decision draws from its own keyed stream (the demo PRNG's mulberry32, integer arithmetic only),
 * so the same seed and the same choices give the same children on every machine.
 */
import { Stream } from '../../models/demo/prng.js';

export class Random {
  private readonly s: Stream;

  constructor(seed: number, key: string) {
    this.s = new Stream(seed, key);
  }

  /** Uniform in (0, 1). */
  next(): number {
    return this.s.uniform();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Index drawn with probability proportional to `weights` (all ≥ 0, some > 0). */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + Math.max(0, b), 0);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= Math.max(0, weights[i]!);
      if (u <= 0 && weights[i]! > 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
    return 0;
  }

  /** A fresh generation seed in [0, 2^32). */
  seed(): number {
    return Math.floor(this.next() * 2 ** 32);
  }
}
