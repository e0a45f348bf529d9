/**
 * Neural-network layer helpers over GraphBuilder, emitting the op patterns PyTorch's ONNX
 * exporter produces for diffusers / transformers modules (so the demo models exercise the same
 * ops and the same autodiff rules as the public exports):
 * Linear = MatMul + Add, GroupNorm = Reshape + InstanceNormalization + Reshape + Mul + Add,
 * SiLU = Sigmoid + Mul, GELU = Erf form, attention = MatMul + Mul + Softmax + MatMul.
 *
 * Parameters are initializers named like the PyTorch state dict (`down_blocks.0.resnets.0.conv1.weight`)
 * and nodes are named like the exporter's scopes (`/down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax`),
 * which is what the attention-capture and inversion code look for.
 */
import { GraphBuilder, makeTensor } from '../../onnx/builder.js';
import { DataType } from '../../onnx/dtype.js';
import { emptyModel, type Model } from '../../onnx/ir.js';
import { normals } from './prng.js';

/** How parameters are stored. 'float16' stores half-precision initializers followed by a Cast to float. */
export type WeightPrecision = 'float32' | 'float16';

/** Normalised 3x3 binomial kernel: convolutions initialised with it smooth instead of adding speckle. */
const BLUR3 = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);

export interface ConvInit {
  /** Std of the channel-mixing matrix applied with the smoothing kernel (default 1/sqrt(inC)). */
  smooth?: number;
  /** Std of an additional unstructured random kernel (default 0). */
  rough?: number;
  /** Add `identity` times the identity map (needs inC = outC; centre tap). */
  identity?: number;
  /** Make every k x k kernel sum to zero (a high-pass filter: adds detail without shifting local means). */
  zeroSum?: boolean;
  /** Explicit weights [outC, inC, k, k] (overrides the random init). */
  values?: Float32Array;
}

/** `down_blocks.0.resnets.1.conv1` -> `/down_blocks.0/resnets.1/conv1` (the exporter's scope names). */
export function scopePath(path: string): string {
  const parts: string[] = [];
  for (const seg of path.split('.')) {
    if (/^\d+$/.test(seg) && parts.length > 0) parts[parts.length - 1] += `.${seg}`;
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

export class Net {
  readonly b: GraphBuilder;
  readonly model: Model;

  constructor(readonly seed: number, readonly precision: WeightPrecision = 'float32', opset = 17, graphName = 'main_graph') {
    this.model = emptyModel(opset);
    this.model.graph.name = graphName;
    this.b = new GraphBuilder(this.model.graph, opset);
  }

  get opset(): number {
    return this.b.opset;
  }

  op(opType: string, inputs: string[], attrs: Parameters<GraphBuilder['op']>[2] = {}, scope = ''): string {
    return this.b.op(opType, inputs, attrs, { name: scope ? `${scopePath(scope)}/${opType}` : opType });
  }

  /**
   * A float parameter with an exact state-dict name; returns the name of a float32 value.
   * In fp16 precision the initializer holds half bits and a Cast restores float32 (onnxruntime
   * folds it at load), which is how the fp16 loader fixture keeps CPU-runnable float32 compute.
   */
  param(name: string, dims: number[], values: ArrayLike<number>): string {
    if (this.precision === 'float32') {
      this.b.addInitializer(makeTensor(name, DataType.FLOAT, dims, values));
      return name;
    }
    this.b.addInitializer(makeTensor(name, DataType.FLOAT16, dims, values));
    return this.b.op('Cast', [name], { to: DataType.FLOAT }, { name: `${name}_cast` });
  }

  randn(name: string, dims: number[], std: number, mean = 0): string {
    const count = dims.reduce((a, c) => a * c, 1);
    const v = normals(this.seed, name, count, std);
    if (mean !== 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! + mean;
    return this.param(name, dims, v);
  }

  filled(name: string, dims: number[], value: number): string {
    const count = dims.reduce((a, c) => a * c, 1);
    return this.param(name, dims, new Float32Array(count).fill(value));
  }

  /** Float32 constant that is not a learned parameter (scales, tables); never stored as fp16. */
  constant(base: string, dims: number[], values: ArrayLike<number>): string {
    return this.b.initializer(base, DataType.FLOAT, dims, values);
  }

  scalar(value: number, base = 'const'): string {
    return this.b.scalar(value, DataType.FLOAT, base);
  }

  /** y = x W + b for x [..., inF]; W stored [inF, outF] as the exporter does for MatMul. */
  linear(x: string, path: string, inF: number, outF: number, opts: { bias?: boolean; std?: number; biasStd?: number; values?: Float32Array } = {}): string {
    const w = opts.values ? this.param(`${path}.weight`, [inF, outF], opts.values) : this.randn(`${path}.weight`, [inF, outF], opts.std ?? 1 / Math.sqrt(inF));
    let y = this.op('MatMul', [x, w], {}, path);
    if (opts.bias ?? true) {
      const b = opts.biasStd ? this.randn(`${path}.bias`, [outF], opts.biasStd) : this.filled(`${path}.bias`, [outF], 0);
      y = this.op('Add', [y, b], {}, path);
    }
    return y;
  }

  /** 2-D convolution with `same` padding for odd k (or explicit pads). */
  conv(x: string, path: string, inC: number, outC: number, k: number, opts: { stride?: number; pad?: number; bias?: boolean; biasStd?: number; init?: ConvInit } = {}): string {
    const init = opts.init ?? {};
    let values = init.values;
    if (!values) {
      values = new Float32Array(outC * inC * k * k);
      const smooth = init.smooth ?? 1 / Math.sqrt(inC);
      const rough = init.rough ?? 0;
      if (smooth !== 0) {
        const m = normals(this.seed, `${path}.weight#mix`, outC * inC, smooth);
        const kern = k === 3 ? BLUR3 : k === 1 ? [1] : new Array<number>(k * k).fill(1 / (k * k));
        for (let o = 0; o < outC; o++) for (let i = 0; i < inC; i++) for (let t = 0; t < k * k; t++) values[(o * inC + i) * k * k + t] = m[o * inC + i]! * kern[t]!;
      }
      if (rough !== 0) {
        const r = normals(this.seed, `${path}.weight#rough`, values.length, rough);
        for (let j = 0; j < values.length; j++) values[j] = values[j]! + r[j]!;
      }
      if (init.zeroSum) {
        for (let j = 0; j < outC * inC; j++) {
          let m = 0;
          for (let t = 0; t < k * k; t++) m += values[j * k * k + t]!;
          m /= k * k;
          for (let t = 0; t < k * k; t++) values[j * k * k + t] = values[j * k * k + t]! - m;
        }
      }
      if (init.identity && inC === outC) {
        const c = Math.floor((k * k) / 2);
        for (let o = 0; o < outC; o++) values[(o * inC + o) * k * k + c] = values[(o * inC + o) * k * k + c]! + init.identity;
      }
    }
    const w = this.param(`${path}.weight`, [outC, inC, k, k], values);
    const ins = [x, w];
    if (opts.bias ?? true) ins.push(opts.biasStd ? this.randn(`${path}.bias`, [outC], opts.biasStd) : this.filled(`${path}.bias`, [outC], 0));
    const pad = opts.pad ?? (k - 1) / 2;
    return this.op('Conv', ins, { dilations: [1, 1], group: 1, kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [opts.stride ?? 1, opts.stride ?? 1] }, path);
  }

  silu(x: string, scope: string): string {
    return this.op('Mul', [x, this.op('Sigmoid', [x], {}, scope)], {}, scope);
  }

  /** Exact GELU as exported: 0.5 x (1 + erf(x / sqrt 2)). */
  gelu(x: string, scope: string): string {
    const e = this.op('Erf', [this.op('Div', [x, this.scalar(Math.SQRT2, 'sqrt2')], {}, scope)], {}, scope);
    return this.op('Mul', [this.op('Mul', [x, this.op('Add', [e, this.scalar(1, 'one')], {}, scope)], {}, scope), this.scalar(0.5, 'half')], {}, scope);
  }

  /** CLIP's quick GELU: x * sigmoid(1.702 x). */
  quickGelu(x: string, scope: string): string {
    return this.op('Mul', [x, this.op('Sigmoid', [this.op('Mul', [x, this.scalar(1.702, 'qg')], {}, scope)], {}, scope)], {}, scope);
  }

  /** GroupNorm over [B, C, H, W] as exported: Reshape [B, G, -1], InstanceNormalization, Reshape back, affine. */
  groupNorm(x: string, path: string, channels: number, groups: number, opts: { eps?: number; gammaStd?: number } = {}): string {
    const shape = this.op('Shape', [x], {}, path);
    const r = this.op('Reshape', [x, this.b.int64s([0, groups, -1], 'gn_shape')], {}, path);
    const inorm = this.op(
      'InstanceNormalization',
      [r, this.constant('gn_scale', [groups], new Float32Array(groups).fill(1)), this.constant('gn_bias', [groups], new Float32Array(groups))],
      { epsilon: { kind: 'float', value: opts.eps ?? 1e-5 } },
      path,
    );
    const back = this.op('Reshape', [inorm, shape], {}, path);
    const gamma = opts.gammaStd ? this.randn(`${path}.weight`, [channels, 1, 1], opts.gammaStd, 1) : this.filled(`${path}.weight`, [channels, 1, 1], 1);
    const beta = this.filled(`${path}.bias`, [channels, 1, 1], 0);
    return this.op('Add', [this.op('Mul', [back, gamma], {}, path), beta], {}, path);
  }

  /** LayerNormalization over the last axis (opset 17 op). */
  layerNorm(x: string, path: string, dim: number, eps = 1e-5): string {
    const g = this.filled(`${path}.weight`, [dim], 1);
    const bta = this.filled(`${path}.bias`, [dim], 0);
    return this.op('LayerNormalization', [x, g, bta], { axis: -1, epsilon: { kind: 'float', value: eps } }, path);
  }

  /**
   * Multi-head attention: queries from xq [B, N, dim], keys/values from xkv [B, M, kvDim].
   * `scoreScale` multiplies the usual 1/sqrt(headDim) (demo models sharpen cross-attention with it);
   * `mask` is an additive [N, M] float constant (causal text attention).
   */
  attention(
    xq: string,
    xkv: string,
    path: string,
    dim: number,
    kvDim: number,
    heads: number,
    opts: { qkvBias?: boolean; qkStd?: number; vStd?: number; outStd?: number; scoreScale?: number; mask?: string; names?: { q: string; k: string; v: string; out: string } } = {},
  ): string {
    const headDim = dim / heads;
    if (!Number.isInteger(headDim)) throw new Error(`attention ${path}: dim ${dim} not divisible by ${heads} heads`);
    const n = opts.names ?? { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
    const bias = opts.qkvBias ?? false;
    const q = this.linear(xq, `${path}.${n.q}`, dim, dim, { bias, std: opts.qkStd ?? 1 / Math.sqrt(dim) });
    const k = this.linear(xkv, `${path}.${n.k}`, kvDim, dim, { bias, std: opts.qkStd ?? 1 / Math.sqrt(kvDim) });
    const v = this.linear(xkv, `${path}.${n.v}`, kvDim, dim, { bias, std: opts.vStd ?? 1 / Math.sqrt(kvDim) });
    const split = this.b.int64s([0, 0, heads, headDim], 'heads_shape');
    const qh = this.op('Transpose', [this.op('Reshape', [q, split], {}, path)], { perm: [0, 2, 1, 3] }, path);
    const kh = this.op('Transpose', [this.op('Reshape', [k, split], {}, path)], { perm: [0, 2, 3, 1] }, path);
    const vh = this.op('Transpose', [this.op('Reshape', [v, split], {}, path)], { perm: [0, 2, 1, 3] }, path);
    let s = this.op('Mul', [this.op('MatMul', [qh, kh], {}, path), this.scalar((opts.scoreScale ?? 1) / Math.sqrt(headDim), 'attn_scale')], {}, path);
    if (opts.mask) s = this.op('Add', [s, opts.mask], {}, path);
    const p = this.op('Softmax', [s], { axis: -1 }, path);
    const o = this.op('MatMul', [p, vh], {}, path);
    const merged = this.op('Reshape', [this.op('Transpose', [o], { perm: [0, 2, 1, 3] }, path), this.b.int64s([0, 0, dim], 'merge_shape')], {}, path);
    return this.linear(merged, `${path}.${n.out}`, dim, dim, { std: opts.outStd ?? 1 / Math.sqrt(dim) });
  }

  /** [B, C, H, W] -> [B, H*W, C] */
  toTokens(x: string, scope: string, channels: number): string {
    return this.op('Transpose', [this.op('Reshape', [x, this.b.int64s([0, channels, -1], 'flat_shape')], {}, scope)], { perm: [0, 2, 1] }, scope);
  }

  /** [B, H*W, C] -> the shape of `like` ([B, C, H, W]) */
  fromTokens(x: string, like: string, scope: string): string {
    return this.op('Reshape', [this.op('Transpose', [x], { perm: [0, 2, 1] }, scope), this.op('Shape', [like], {}, scope)], {}, scope);
  }

  /** Nearest-neighbour 2x upsampling of [B, C, H, W], as torch exports F.interpolate(scale_factor=2). */
  upsample2x(x: string, scope: string): string {
    const scales = this.constant('resize_scales', [4], [1, 1, 2, 2]);
    return this.op('Resize', [x, '', scales], { coordinate_transformation_mode: 'asymmetric', mode: 'nearest', nearest_mode: 'floor' }, scope);
  }
}
