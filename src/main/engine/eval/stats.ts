/**
 * Means with 95% confidence intervals, as the report's tables give them: mean ± t(0.975, n−1) ·
 * s / √n (Student's t; s the sample standard deviation). Non-finite values are left out (an
 * identical regeneration has PSNR = ∞: counted in `infinite`, not in the mean).
 */

/** t(0.975, df) for df = 1..30 (standard tables). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (table to 30, then a Cornish–Fisher expansion). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  if (df <= 30) return T975[Math.round(df) - 1]!;
  const z = 1.959964;
  const z3 = z ** 3;
  const z5 = z ** 5;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df);
}

export interface Summary {
  /** Finite values counted. */
  n: number;
  mean: number;
  /** Half-width of the 95% interval (NaN with fewer than 2 values). */
  ci95: number;
  sd: number;
  /** +∞ / −∞ values left out of the mean. */
  infinite: number;
}

export function summarise(values: readonly (number | null | undefined)[]): Summary {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const infinite = values.filter((v) => v === Infinity || v === -Infinity).length;
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, ci95: NaN, sd: NaN, infinite };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, ci95: NaN, sd: NaN, infinite };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { n, mean, ci95: (tQuantile975(n - 1) * sd) / Math.sqrt(n), sd, infinite };
}
