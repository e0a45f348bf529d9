/**
 * Limited-memory BFGS over a flat parameter vector, one gradient evaluation per step (no line
 * search), as `torch.optim.LBFGS(params, lr, max_iter=1, history_size=m)` steps when each call
 * evaluates the closure once: direction d = -H·g from the two-loop recursion over the last m
 * curvature pairs (s = Δparams, y = Δgrad), the first step scaled by min(1, 1/‖g‖₁), pairs with
 * y·s ≤ 1e-10 skipped. PH2P optimises its prompt embeddings with L-BFGS; with a stochastic
 * objective (a random timestep per evaluation) the curvature pairs are noisy, which is why the
 * reference keeps many iterations.
 */
import type { Optimiser } from '../optimiser.js';

export interface LbfgsOptions {
  /** Curvature pairs kept (torch default 100). */
  history?: number;
}

export class Lbfgs implements Optimiser {
  private t = 0;
  private readonly history: number;
  private readonly s: Float64Array[] = [];
  private readonly y: Float64Array[] = [];
  private readonly rho: number[] = [];
  private prevParams?: Float64Array;
  private prevGrad?: Float64Array;
  private hDiag = 1;

  constructor(
    private readonly size: number,
    o: LbfgsOptions = {},
  ) {
    this.history = o.history ?? 100;
  }

  get steps(): number {
    return this.t;
  }

  step(params: Float32Array, grad: Float32Array, lr: number, mask?: Uint8Array): void {
    if (params.length !== this.size || grad.length !== this.size) throw new RangeError('L-BFGS: parameter/gradient size mismatch');
    const n = this.size;
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) g[i] = mask && !mask[i] ? 0 : grad[i]!;
    const x = Float64Array.from(params);
    if (this.prevParams && this.prevGrad) {
      const s = new Float64Array(n);
      const y = new Float64Array(n);
      let ys = 0;
      let yy = 0;
      for (let i = 0; i < n; i++) {
        s[i] = x[i]! - this.prevParams[i]!;
        y[i] = g[i]! - this.prevGrad[i]!;
        ys += y[i]! * s[i]!;
        yy += y[i]! * y[i]!;
      }
      if (ys > 1e-10) {
        if (this.s.length === this.history) {
          this.s.shift();
          this.y.shift();
          this.rho.shift();
        }
        this.s.push(s);
        this.y.push(y);
        this.rho.push(1 / ys);
        this.hDiag = ys / yy;
      }
    }
    // Two-loop recursion: q <- H g.
    const q = Float64Array.from(g);
    const k = this.s.length;
    const alpha = new Array<number>(k);
    for (let j = k - 1; j >= 0; j--) {
      let a = 0;
      for (let i = 0; i < n; i++) a += this.s[j]![i]! * q[i]!;
      a *= this.rho[j]!;
      alpha[j] = a;
      for (let i = 0; i < n; i++) q[i] = q[i]! - a * this.y[j]![i]!;
    }
    for (let i = 0; i < n; i++) q[i] = q[i]! * this.hDiag;
    for (let j = 0; j < k; j++) {
      let b = 0;
      for (let i = 0; i < n; i++) b += this.y[j]![i]! * q[i]!;
      b *= this.rho[j]!;
      for (let i = 0; i < n; i++) q[i] = q[i]! + this.s[j]![i]! * (alpha[j]! - b);
    }
    let stepSize = lr;
    if (this.t === 0) {
      let l1 = 0;
      for (let i = 0; i < n; i++) l1 += Math.abs(g[i]!);
      stepSize = Math.min(1, l1 > 0 ? 1 / l1 : 1) * lr;
    }
    this.prevParams = x;
    this.prevGrad = g;
    for (let i = 0; i < n; i++) if (!mask || mask[i]) params[i] = params[i]! - stepSize * q[i]!;
    this.t++;
  }
}
