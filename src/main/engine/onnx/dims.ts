/**
 * Arithmetic on dimensions that may be symbolic.
 *
 * A symbolic dim is a string. Dims produced here are affine combinations of "atoms" (model dim
 * names such as `height`, or opaque terms such as `floor((height+1)/2)`), written canonically
 * (`2*height+width-1`) so that two computations of the same size give the same string and
 * broadcasting/concat checks can compare them. Strings not produced here are treated as atoms.
 */
import type { Dim } from './ir.js';

/**
 * A polynomial with integer coefficients over atoms: monomial key (atom names joined by SEP,
 * sorted) -> coefficient, plus a constant.
 */
interface Poly {
  terms: Map<string, number>;
  c: number;
}

const SEP = '\u0001';
const cache = new Map<string, Poly>();

function atom(name: string): Poly {
  return { terms: new Map([[name, 1]]), c: 0 };
}

function toPoly(d: Dim): Poly {
  if (typeof d === 'number') return { terms: new Map(), c: d };
  return cache.get(d) ?? atom(d);
}

function fromPoly(a: Poly): Dim {
  const entries = [...a.terms].filter(([, k]) => k !== 0).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  if (entries.length === 0) return a.c;
  if (entries.length === 1 && entries[0]![1] === 1 && a.c === 0 && !entries[0]![0].includes(SEP)) return entries[0]![0];
  let s = '';
  for (const [key, k] of entries) {
    const name = key.split(SEP).join('*');
    const term = k === 1 ? name : k === -1 ? `-${name}` : `${k}*${name}`;
    s += s === '' || term.startsWith('-') ? term : `+${term}`;
  }
  if (a.c !== 0) s += a.c > 0 ? `+${a.c}` : `${a.c}`;
  if (!cache.has(s)) cache.set(s, { terms: new Map(entries), c: a.c });
  return s;
}

function combine(a: Poly, b: Poly, kb: number): Poly {
  const terms = new Map(a.terms);
  for (const [n, k] of b.terms) {
    const v = (terms.get(n) ?? 0) + kb * k;
    if (v === 0) terms.delete(n);
    else terms.set(n, v);
  }
  return { terms, c: a.c + kb * b.c };
}

function scale(a: Poly, k: number): Poly {
  if (k === 0) return { terms: new Map(), c: 0 };
  return { terms: new Map([...a.terms].map(([n, v]) => [n, v * k])), c: a.c * k };
}

function monoMul(x: string, y: string): string {
  return [...x.split(SEP), ...y.split(SEP)].sort().join(SEP);
}

function polyMul(a: Poly, b: Poly): Poly {
  let out: Poly = { terms: new Map(), c: a.c * b.c };
  if (b.c !== 0) out = combine(out, { terms: a.terms, c: 0 }, b.c);
  if (a.c !== 0) out = combine(out, { terms: b.terms, c: 0 }, a.c);
  for (const [x, kx] of a.terms) {
    for (const [y, ky] of b.terms) out = combine(out, { terms: new Map([[monoMul(x, y), kx * ky]]), c: 0 }, 1);
  }
  return out;
}

export function isStatic(d: Dim | undefined): d is number {
  return typeof d === 'number';
}

export function allStatic(shape: Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return fromPoly(combine(toPoly(a), toPoly(b), 1));
}

export function dimSub(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return fromPoly(combine(toPoly(a), toPoly(b), -1));
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  return fromPoly(polyMul(toPoly(a), toPoly(b)));
}

/** floor(a / k) for a positive integer k (symbolic dims are non-negative integers). */
export function dimFloorDiv(a: Dim, k: number): Dim {
  if (typeof a === 'number') return Math.floor(a / k);
  if (k === 1) return a;
  const s = toPoly(a);
  if ([...s.terms.values()].every((v) => v % k === 0)) {
    return fromPoly({ terms: new Map([...s.terms].map(([n, v]) => [n, v / k])), c: Math.floor(s.c / k) });
  }
  return fromPoly(atom(`floor((${a})/${k})`));
}

/** ceil(a / k) for a positive integer k. */
export function dimCeilDiv(a: Dim, k: number): Dim {
  if (typeof a === 'number') return Math.ceil(a / k);
  const neg = dimFloorDiv(dimMul(a, -1), k);
  return dimMul(neg, -1);
}

/** Product of dims (1 for the empty list). */
export function dimProd(dims: Dim[]): Dim {
  return dims.reduce<Dim>((p, d) => dimMul(p, d), 1);
}

/** The numeric product of a static shape. */
export function numel(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Describe a shape for error messages: [1,4,height,64]. */
export function fmtShape(shape: Dim[] | undefined): string {
  return shape === undefined ? '(unknown rank)' : `[${shape.join(',')}]`;
}

/**
 * a / b when the division is known to be exact (e.g. a Reshape's -1). Divides by numbers and
 * by single monomials (`height*width`); returns undefined when the quotient cannot be expressed.
 */
export function dimDivExact(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === 'number' && typeof b === 'number') return b !== 0 && a % b === 0 ? a / b : undefined;
  if (a === b) return 1;
  const sa = toPoly(a);
  const sb = toPoly(b);
  if (sb.terms.size === 0) {
    if (sb.c === 0) return undefined;
    if ([...sa.terms.values()].every((v) => v % sb.c === 0) && sa.c % sb.c === 0) return fromPoly(scale(sa, 1 / sb.c));
    return undefined;
  }
  if (sb.c !== 0 || sb.terms.size !== 1 || sa.c !== 0) return undefined;
  const [mb, kb] = [...sb.terms][0]!;
  const fb = mb.split(SEP);
  const terms = new Map<string, number>();
  let c = 0;
  for (const [m, k] of sa.terms) {
    if (k % kb !== 0) return undefined;
    const fa = m.split(SEP);
    for (const f of fb) {
      const i = fa.indexOf(f);
      if (i < 0) return undefined;
      fa.splice(i, 1);
    }
    if (fa.length === 0) c += k / kb;
    else terms.set(fa.join(SEP), k / kb);
  }
  return fromPoly({ terms, c });
}
