/**
 * First-order optimisers over a flat Float32Array of parameters (the refined text embedding).
 * The state lives in Float64Array so long runs do not drift from float32 rounding of moments.
 */
export interface Optimiser {
  /** Update `params` in place from `grad` (same length) with learning rate `lr`. */
  step(params: Float32Array, grad: Float32Array, lr: number, mask?: Uint8Array): void;
  /** Copy of the optimiser state, so a snapshot can be resumed. */
  readonly steps: number;
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (PyTorch AdamW default 0.01). */
  weightDecay?: number;
}

/** AdamW exactly as torch.optim.AdamW (decoupled decay, bias-corrected moments). */
export class AdamW implements Optimiser {
  private m: Float64Array;
  private v: Float64Array;
  private t = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(size: number, opts: AdamWOptions = {}) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  get steps(): number {
    return this.t;
  }

  step(params: Float32Array, grad: Float32Array, lr: number, mask?: Uint8Array): void {
    if (params.length !== this.m.length || grad.length !== this.m.length) throw new RangeError('AdamW: parameter/gradient size mismatch');
    this.t++;
    const { beta1, beta2, eps, weightDecay } = this;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    for (let i = 0; i < params.length; i++) {
      if (mask && !mask[i]) continue;
      const g = grad[i]!;
      let p = params[i]! * (1 - lr * weightDecay);
      const m = (this.m[i] = beta1 * this.m[i]! + (1 - beta1) * g);
      const v = (this.v[i] = beta2 * this.v[i]! + (1 - beta2) * g * g);
      p -= (lr * (m / bc1)) / (Math.sqrt(v / bc2) + eps);
      params[i] = p;
    }
  }
}

/** Plain gradient descent (optionally with momentum). */
export class Sgd implements Optimiser {
  private velocity: Float64Array;
  private t = 0;

  constructor(
    size: number,
    private readonly momentum = 0,
  ) {
    this.velocity = new Float64Array(size);
  }

  get steps(): number {
    return this.t;
  }

  step(params: Float32Array, grad: Float32Array, lr: number, mask?: Uint8Array): void {
    if (params.length !== this.velocity.length || grad.length !== this.velocity.length)
      throw new RangeError('SGD: parameter/gradient size mismatch');
    this.t++;
    for (let i = 0; i < params.length; i++) {
      if (mask && !mask[i]) continue;
      const v = (this.velocity[i] = this.momentum * this.velocity[i]! + grad[i]!);
      params[i] = params[i]! - lr * v;
    }
  }
}

export type OptimiserName = 'adamw' | 'sgd';

export function createOptimiser(name: OptimiserName, size: number): Optimiser {
  return name === 'adamw' ? new AdamW(size) : new Sgd(size);
}
