/**
 * Conditional UNet with the topology of diffusers' UNet2DConditionModel (SD 1.x): conv_in,
 * sinusoidal timestep embedding (Cos/Sin) + MLP, down blocks of ResNet blocks and spatial
 * transformers (self-attention, cross-attention on `encoder_hidden_states`, GEGLU feed-forward),
 * strided-conv downsampling, a mid block, up blocks with skip Concats and nearest 2x Resize
 * upsampling, GroupNorm/SiLU/conv_out. Interface of the public ONNX exports:
 * `sample` [batch,4,height,width], `timestep` [batch], `encoder_hidden_states` [batch,77,D] ->
 * `out_sample` [batch,4,height,width] (plus LCM's optional `timestep_cond`).
 *
 * One parameterised builder makes both the tiny demo UNet and the SD-1.5-proportioned benchmark
 * UNet (`sd15UnetOptions(fraction)`).
 */
import { DataType } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { Net, type ConvInit, type WeightPrecision } from './nn.js';

export type TimestepDtype = 'int64' | 'float32' | 'float16';

/**
 * Demo behaviour. A random network is not a denoiser, so the demo UNet treats its network output
 * as a prediction x0 of the clean latent and returns the matching noise prediction
 * eps = (sample - sqrt(abar_t) x0) / sqrt(1 - abar_t), with abar_t looked up from the training
 * schedule by timestep. Every sampler then converges on x0, which the network makes depend
 * smoothly and strongly on the text through amplified cross-attention.
 */
export interface DemoBehaviour {
  /** abar_t for t = 0..T-1 (the scheduler's alphas_cumprod). */
  alphasCumprod: ArrayLike<number>;
  /** Multiplier of the cross-attention residual (text conditioning dominates when > 1). */
  crossAttentionGain: number;
  /** Multiplier of cross-attention logits (sharper token-to-region assignment). */
  crossAttentionSharpness: number;
  /** Std of conv_out weights, i.e. the typical size of the x0 prediction. */
  outputScale: number;
}

export interface UnetOptions {
  /** Block output channels, e.g. SD 1.5 [320, 640, 1280, 1280]. */
  channels: number[];
  /** ResNet blocks per down block (up blocks get one more). SD 1.5: 2. */
  layersPerBlock: number;
  /** Which levels carry spatial transformers (default: all but the deepest, as in SD 1.5). */
  attentionLevels?: boolean[];
  /** Attention heads (SD 1.5: 8). */
  heads: number;
  /** Width of encoder_hidden_states (SD 1.5: 768). */
  crossAttentionDim: number;
  /** GroupNorm groups (SD 1.5: 32); must divide every channel count. */
  groups?: number;
  inChannels?: number;
  outChannels?: number;
  timestepDtype?: TimestepDtype;
  /** Element type of sample / encoder_hidden_states / out_sample. */
  ioDtype?: 'float32' | 'float16';
  weights?: WeightPrecision;
  seed?: number;
  /** LCM: width of the extra `timestep_cond` input (guidance embedding), added to the time embedding. */
  timestepCondDim?: number;
  midBlockAttention?: boolean;
  demo?: DemoBehaviour;
  opset?: number;
}

/** Largest divisor of every channel count that is <= 32 (GroupNorm needs it to divide each). */
function groupsFor(channels: number[]): number {
  for (let g = 32; g >= 1; g--) if (channels.every((c) => c % g === 0)) return g;
  return 1;
}

/**
 * Options for the SD-1.5-proportioned UNet: channels [320, 640, 1280, 1280] * fraction (rounded to
 * multiples of 8 and of `heads`), 2 layers per block, 8 heads, cross-attention dim 768.
 */
export function sd15UnetOptions(fraction = 1, overrides: Partial<UnetOptions> = {}): UnetOptions {
  const heads = overrides.heads ?? 8;
  const unit = Math.max(8, heads);
  const channels = [320, 640, 1280, 1280].map((c) => Math.max(unit, Math.round((c * fraction) / unit) * unit));
  return {
    channels,
    layersPerBlock: 2,
    attentionLevels: [true, true, true, false],
    heads,
    crossAttentionDim: 768,
    groups: groupsFor(channels),
    timestepDtype: 'int64',
    seed: 1234,
    ...overrides,
  };
}

/** Sinusoidal timestep embedding as diffusers' Timesteps(flip_sin_to_cos=True, shift=0): [cos(t f), sin(t f)]. */
function timestepEmbedding(net: Net, tFloat: string, dim: number): string {
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
  const f = net.constant('time_proj_freqs', [1, half], freqs);
  const args = net.op('Mul', [net.b.unsqueeze(tFloat, [1]), f], {}, 'time_proj');
  return net.op('Concat', [net.op('Cos', [args], {}, 'time_proj'), net.op('Sin', [args], {}, 'time_proj')], { axis: -1 }, 'time_proj');
}

interface Ctx {
  net: Net;
  temb: string;
  tembDim: number;
  ehs: string;
  o: UnetOptions;
  groups: number;
  convInit: (inC: number) => ConvInit | undefined;
}

function resnet(c: Ctx, x: string, path: string, inC: number, outC: number): string {
  const { net } = c;
  let h = net.silu(net.groupNorm(x, `${path}.norm1`, inC, c.groups), `${path}.nonlinearity`);
  h = net.conv(h, `${path}.conv1`, inC, outC, 3, { init: c.convInit(inC) });
  const t = net.linear(net.silu(c.temb, `${path}.nonlinearity`), `${path}.time_emb_proj`, c.tembDim, outC, { std: 0.5 / Math.sqrt(c.tembDim) });
  h = net.op('Add', [h, net.b.unsqueeze(t, [2, 3])], {}, path);
  h = net.silu(net.groupNorm(h, `${path}.norm2`, outC, c.groups), `${path}.nonlinearity`);
  const init2 = c.convInit(outC);
  h = net.conv(h, `${path}.conv2`, outC, outC, 3, { init: init2 ? { ...init2, smooth: (init2.smooth ?? 1 / Math.sqrt(outC)) * 0.5 } : { smooth: 0, rough: 0.5 / Math.sqrt(9 * outC) } });
  const skip = inC === outC ? x : net.conv(x, `${path}.conv_shortcut`, inC, outC, 1);
  return net.op('Add', [skip, h], {}, path);
}

function transformer(c: Ctx, x: string, path: string, ch: number): string {
  const { net, o } = c;
  const demo = o.demo;
  let h = net.groupNorm(x, `${path}.norm`, ch, c.groups, { eps: 1e-6 });
  h = net.conv(h, `${path}.proj_in`, ch, ch, 1);
  h = net.toTokens(h, path, ch);
  const tb = `${path}.transformer_blocks.0`;
  const n1 = net.layerNorm(h, `${tb}.norm1`, ch);
  const self = net.attention(n1, n1, `${tb}.attn1`, ch, ch, o.heads, { outStd: 0.5 / Math.sqrt(ch) });
  h = net.op('Add', [self, h], {}, tb);
  const n2 = net.layerNorm(h, `${tb}.norm2`, ch);
  let cross = net.attention(n2, c.ehs, `${tb}.attn2`, ch, o.crossAttentionDim, o.heads, {
    scoreScale: demo?.crossAttentionSharpness ?? 1,
    outStd: 1 / Math.sqrt(ch),
  });
  if (demo && demo.crossAttentionGain !== 1) cross = net.op('Mul', [cross, net.scalar(demo.crossAttentionGain, 'xattn_gain')], {}, `${tb}.attn2`);
  h = net.op('Add', [cross, h], {}, tb);
  const n3 = net.layerNorm(h, `${tb}.norm3`, ch);
  const proj = net.linear(n3, `${tb}.ff.net.0.proj`, ch, 8 * ch);
  const [val, gate] = net.b.split(proj, -1, [4 * ch, 4 * ch]);
  const geglu = net.op('Mul', [val!, net.gelu(gate!, `${tb}.ff.net.0`)], {}, `${tb}.ff.net.0`);
  h = net.op('Add', [net.linear(geglu, `${tb}.ff.net.2`, 4 * ch, ch, { std: 0.5 / Math.sqrt(4 * ch) }), h], {}, tb);
  h = net.fromTokens(h, x, path);
  h = net.conv(h, `${path}.proj_out`, ch, ch, 1);
  return net.op('Add', [h, x], {}, path);
}

/** Build the UNet described by `opts` as an in-memory ONNX model. */
export function buildUnetModel(opts: UnetOptions): Model {
  const o: UnetOptions = { inChannels: 4, outChannels: 4, timestepDtype: 'int64', ioDtype: 'float32', seed: 1234, midBlockAttention: true, ...opts };
  const levels = o.channels.length;
  const attn = o.attentionLevels ?? o.channels.map((_, i) => i < levels - 1);
  const groups = o.groups ?? groupsFor(o.channels);
  for (const ch of o.channels) {
    if (ch % groups !== 0) throw new Error(`UNet: ${groups} groups do not divide ${ch} channels`);
    if (ch % o.heads !== 0) throw new Error(`UNet: ${o.heads} heads do not divide ${ch} channels`);
  }
  const net = new Net(o.seed!, o.weights ?? 'float32', o.opset ?? 17, 'unet');
  const b = net.b;
  const io = o.ioDtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const tType = o.timestepDtype === 'float16' ? DataType.FLOAT16 : o.timestepDtype === 'float32' ? DataType.FLOAT : DataType.INT64;

  const sampleIn = b.addInput('sample', io, ['batch', o.inChannels!, 'height', 'width']);
  const tIn = b.addInput('timestep', tType, ['batch']);
  const ehsIn = b.addInput('encoder_hidden_states', io, ['batch', 'sequence', o.crossAttentionDim]);
  const condIn = o.timestepCondDim ? b.addInput('timestep_cond', io, ['batch', o.timestepCondDim]) : undefined;
  const toFloat = (v: string): string => (io === DataType.FLOAT16 ? net.op('Cast', [v], { to: DataType.FLOAT }, 'input_cast') : v);
  const sample = toFloat(sampleIn);
  const ehs = toFloat(ehsIn);
  const tFloat = tType === DataType.FLOAT ? tIn : net.op('Cast', [tIn], { to: DataType.FLOAT }, 'time_proj');

  // The demo smooths its convolutions (blurred kernels mix channels), so noise turns into blobs, not speckle.
  const convInit = (inC: number): ConvInit | undefined => (o.demo ? { smooth: 1 / Math.sqrt(inC), rough: 0.15 / Math.sqrt(9 * inC) } : undefined);

  const c0 = o.channels[0]!;
  const tembDim = 4 * c0;
  let temb = net.linear(timestepEmbedding(net, tFloat, c0), 'time_embedding.linear_1', c0, tembDim);
  if (condIn) temb = net.op('Add', [temb, net.linear(toFloat(condIn), 'time_embedding.cond_proj', o.timestepCondDim!, tembDim, { bias: false, std: 0.1 / Math.sqrt(o.timestepCondDim!) })], {}, 'time_embedding');
  temb = net.linear(net.silu(temb, 'time_embedding.act'), 'time_embedding.linear_2', tembDim, tembDim);

  const ctx: Ctx = { net, temb, tembDim, ehs, o, groups, convInit };
  let h = net.conv(sample, 'conv_in', o.inChannels!, c0, 3, { init: convInit(o.inChannels!) });
  const skips: { name: string; ch: number }[] = [{ name: h, ch: c0 }];
  let ch = c0;
  for (let i = 0; i < levels; i++) {
    const out = o.channels[i]!;
    for (let j = 0; j < o.layersPerBlock; j++) {
      h = resnet(ctx, h, `down_blocks.${i}.resnets.${j}`, ch, out);
      ch = out;
      if (attn[i]) h = transformer(ctx, h, `down_blocks.${i}.attentions.${j}`, ch);
      skips.push({ name: h, ch });
    }
    if (i < levels - 1) {
      h = net.conv(h, `down_blocks.${i}.downsamplers.0.conv`, ch, ch, 3, { stride: 2, init: convInit(ch) });
      skips.push({ name: h, ch });
    }
  }
  h = resnet(ctx, h, 'mid_block.resnets.0', ch, ch);
  if (o.midBlockAttention) h = transformer(ctx, h, 'mid_block.attentions.0', ch);
  h = resnet(ctx, h, 'mid_block.resnets.1', ch, ch);

  for (let u = 0; u < levels; u++) {
    const level = levels - 1 - u;
    const out = o.channels[level]!;
    for (let j = 0; j <= o.layersPerBlock; j++) {
      const skip = skips.pop()!;
      h = net.op('Concat', [h, skip.name], { axis: 1 }, `up_blocks.${u}`);
      h = resnet(ctx, h, `up_blocks.${u}.resnets.${j}`, ch + skip.ch, out);
      ch = out;
      if (attn[level]) h = transformer(ctx, h, `up_blocks.${u}.attentions.${j}`, ch);
    }
    if (u < levels - 1) {
      h = net.upsample2x(h, `up_blocks.${u}.upsamplers.0`);
      h = net.conv(h, `up_blocks.${u}.upsamplers.0.conv`, ch, ch, 3, { init: convInit(ch) });
    }
  }
  h = net.silu(net.groupNorm(h, 'conv_norm_out', ch, groups), 'conv_act');
  let out = net.conv(h, 'conv_out', ch, o.outChannels!, 3, {
    init: o.demo ? { smooth: o.demo.outputScale / Math.sqrt(ch) * 4, rough: 0 } : { smooth: 0, rough: 1 / Math.sqrt(9 * ch) },
  });

  if (o.demo) out = epsilonFromX0(net, out, sample, tFloat, o.demo.alphasCumprod);
  if (io === DataType.FLOAT16) out = net.op('Cast', [out], { to: DataType.FLOAT16 }, 'output_cast');
  b.identity(out, 'out_sample');
  b.addOutput('out_sample', io, ['batch', o.outChannels!, 'height', 'width']);
  net.model.producerName = 'inversion-studio-demo';
  return net.model;
}

/**
 * eps = (sample - a_t x0) / b_t with a_t = sqrt(abar_t), b_t = sqrt(1 - abar_t) linearly interpolated
 * between integer timesteps (Euler/LMS feed fractional ones). Only constants depend on the timestep.
 */
function epsilonFromX0(net: Net, x0: string, sample: string, tFloat: string, abar: ArrayLike<number>): string {
  const T = abar.length;
  const a = new Float32Array(T + 1);
  const s = new Float32Array(T + 1);
  for (let i = 0; i < T; i++) {
    a[i] = Math.sqrt(abar[i]!);
    s[i] = Math.sqrt(1 - abar[i]!);
  }
  a[T] = a[T - 1]!;
  s[T] = s[T - 1]!;
  const scope = 'demo_x0_to_eps';
  const aTab = net.constant('sqrt_alphas_cumprod', [T + 1], a);
  const sTab = net.constant('sqrt_one_minus_alphas_cumprod', [T + 1], s);
  const t = net.op('Clip', [tFloat, net.scalar(0, 't_min'), net.scalar(T - 1, 't_max')], {}, scope);
  const i0 = net.op('Cast', [t], { to: DataType.INT64 }, scope);
  const i1 = net.op('Add', [i0, net.b.initializer('one_i64', DataType.INT64, [], [1])], {}, scope);
  const w = net.b.unsqueeze(net.op('Sub', [t, net.op('Cast', [i0], { to: DataType.FLOAT }, scope)], {}, scope), [1, 2, 3]);
  const lerp = (tab: string): string => {
    const v0 = net.b.unsqueeze(net.op('Gather', [tab, i0], { axis: 0 }, scope), [1, 2, 3]);
    const v1 = net.b.unsqueeze(net.op('Gather', [tab, i1], { axis: 0 }, scope), [1, 2, 3]);
    return net.op('Add', [v0, net.op('Mul', [w, net.op('Sub', [v1, v0], {}, scope)], {}, scope)], {}, scope);
  };
  const at = lerp(aTab);
  const st = lerp(sTab);
  return net.op('Div', [net.op('Sub', [sample, net.op('Mul', [at, x0], {}, scope)], {}, scope), st], {}, scope);
}
