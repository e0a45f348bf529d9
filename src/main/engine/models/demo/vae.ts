/**
 * VAE decoder and encoder with the public exports' interface:
 * vae_decoder `latent_sample` [batch,4,h,w] -> `sample` [batch,3,8h,8w];
 * vae_encoder `sample` [batch,3,H,W] -> `latent_sample` [batch,4,H/8,W/8] (the mean: deterministic).
 *
 * Layout follows diffusers' AutoencoderKL (conv_in, ResNet blocks, nearest 2x upsampling / strided
 * downsampling, GroupNorm/SiLU/conv_out, post_quant_conv / quant_conv). A trained SD VAE is close
 * to a linear map from the 4 latent channels to RGB plus detail; the demo decoder makes that
 * explicit with an invertible linear path plus a random network path that adds detail:
 *  - latent channels 0-2 -> three distinct hues (an invertible 3x3 colour map), upsampled smoothly
 *    (three nearest-2x + blur stages);
 *  - latent channel 3 -> the amplitude of a soft 8x8 dot texture (a zero-mean bump per 8x8 block,
 *    via a 1x1 conv to 192 channels and depth-to-space with Reshape/Transpose).
 * The encoder inverts that path exactly for smooth latents (block means through the inverse colour
 * map; correlation with the bump), so encode(decode(z)) ~ z as with a trained VAE.
 */
import { DataType } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { Net, type WeightPrecision } from './nn.js';

export interface VaeOptions {
  seed: number;
  /** Decoder channels from the latent side outward (SD: [512, 512, 256, 128]; demo: [64, 32, 32, 16]). */
  channels?: number[];
  groups?: number;
  ioDtype?: 'float32' | 'float16';
  weights?: WeightPrecision;
  opset?: number;
  /** Latent scaling factor the pipeline applies (decoder input = scaled latent / factor). */
  scalingFactor?: number;
  /** Gain of the random network path relative to the colour path. */
  detail?: number;
  /** Multiplier of DEMO_LATENT_COLOURS (default DEMO_COLOUR_GAIN, the demo set's). */
  colourGain?: number;
}

/**
 * RGB contribution of each latent channel for a unit *scaled* latent: four distinct hues, so a text
 * or seed change that moves latent channels moves colours.
 */
export const DEMO_LATENT_COLOURS: readonly (readonly [number, number, number])[] = [
  [0.55, 0.12, -0.3],
  [-0.25, 0.5, 0.1],
  [0.05, -0.2, 0.6],
  [0.3, 0.3, 0.25],
];

/** Colour gain of the demo set: guided images fill [-1, 1] with little clipping. */
export const DEMO_COLOUR_GAIN = 0.6;

/** The zero-mean 8x8 bump that latent channel 3 modulates (row-major, 64 values). */
export function demoTexturePattern(): Float32Array {
  const p = new Float32Array(64);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) p[y * 8 + x] = Math.sin((Math.PI * (x + 0.5)) / 8) * Math.sin((Math.PI * (y + 0.5)) / 8);
  const mean = p.reduce((a, b) => a + b, 0) / 64;
  for (let i = 0; i < 64; i++) p[i] = (p[i]! - mean) * 0.6;
  return p;
}

/** [B, 3*64, h, w] -> [B, 3, 8h, 8w] (channel k*64 + dy*8 + dx goes to pixel (8y+dy, 8x+dx) of colour k). */
function depthToSpace8(net: Net, x: string, like: string, scope: string): string {
  const t = net.op('Transpose', [x], { perm: [0, 2, 3, 1] }, scope); // [B, h, w, 192]
  const r = net.op('Reshape', [t, net.b.int64s([0, 0, 0, 3, 8, 8], 'd2s_shape')], {}, scope); // [B, h, w, 3, 8, 8]
  const p = net.op('Transpose', [r], { perm: [0, 3, 1, 4, 2, 5] }, scope); // [B, 3, h, 8, w, 8]
  const hw = net.b.slice(net.op('Shape', [like], {}, scope), [2], [4], [0]);
  const hw8 = net.op('Mul', [hw, net.b.int64s([8, 8], 'd2s_scale')], {}, scope);
  const shape = net.op('Concat', [net.b.int64s([0, 3], 'd2s_head'), hw8], { axis: 0 }, scope);
  return net.op('Reshape', [p, shape], {}, scope);
}

const BLUR3 = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);

/** 3x3 blur on each of `c` channels, as a full (non-grouped) conv so every autodiff Conv rule applies. */
function blurWeights(c: number): Float32Array {
  const w = new Float32Array(c * c * 9);
  for (let i = 0; i < c; i++) for (let t = 0; t < 9; t++) w[(i * c + i) * 9 + t] = BLUR3[t]!;
  return w;
}

function resnet(net: Net, x: string, path: string, inC: number, outC: number, groups: number): string {
  let h = net.silu(net.groupNorm(x, `${path}.norm1`, inC, groups, { eps: 1e-6 }), `${path}.nonlinearity`);
  h = net.conv(h, `${path}.conv1`, inC, outC, 3, { init: { smooth: 1 / Math.sqrt(inC), rough: 0.3 / Math.sqrt(9 * inC) } });
  h = net.silu(net.groupNorm(h, `${path}.norm2`, outC, groups, { eps: 1e-6 }), `${path}.nonlinearity`);
  h = net.conv(h, `${path}.conv2`, outC, outC, 3, { init: { smooth: 0.5 / Math.sqrt(outC), rough: 0.3 / Math.sqrt(9 * outC) } });
  const skip = inC === outC ? x : net.conv(x, `${path}.conv_shortcut`, inC, outC, 1);
  return net.op('Add', [skip, h], {}, path);
}

export function buildVaeDecoderModel(opts: VaeOptions): Model {
  const chs = opts.channels ?? [64, 32, 32, 16];
  const groups = opts.groups ?? 8;
  const sf = opts.scalingFactor ?? 0.18215;
  const net = new Net(opts.seed, opts.weights ?? 'float32', opts.opset ?? 17, 'vae_decoder');
  const io = opts.ioDtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const zIn = net.b.addInput('latent_sample', io, ['batch', 4, 'latent_height', 'latent_width']);
  const z = io === DataType.FLOAT16 ? net.op('Cast', [zIn], { to: DataType.FLOAT }, 'input_cast') : zIn;

  // Colour path: channels 0-2 as smooth colour (nearest 2x + blur, three times).
  const g = sf * (opts.colourGain ?? DEMO_COLOUR_GAIN);
  const colour = new Float32Array(3 * 4);
  for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) colour[k * 4 + c] = DEMO_LATENT_COLOURS[c]![k]! * g;
  let base = net.conv(z, 'decoder.colour_proj', 4, 3, 1, { init: { values: colour } });
  for (let s = 0; s < 3; s++) {
    base = net.upsample2x(base, `decoder.colour_up.${s}`);
    base = net.conv(base, `decoder.colour_up.${s}.blur`, 3, 3, 3, { bias: false, init: { values: blurWeights(3) } });
  }
  // Texture path: channel 3 scales a soft dot per 8x8 block.
  const pat = demoTexturePattern();
  const tex = new Float32Array(192 * 4);
  for (let k = 0; k < 3; k++) for (let o = 0; o < 64; o++) tex[(k * 64 + o) * 4 + 3] = DEMO_LATENT_COLOURS[3]![k]! * pat[o]! * g;
  const texture = depthToSpace8(net, net.conv(z, 'decoder.texture_proj', 4, 192, 1, { bias: false, init: { values: tex } }), z, 'decoder.texture');
  base = net.op('Add', [base, texture], {}, 'decoder.linear');

  // Network path (AutoencoderKL decoder layout, small).
  let h = net.conv(z, 'post_quant_conv', 4, 4, 1, { init: { smooth: sf / 2, identity: sf } });
  h = net.conv(h, 'decoder.conv_in', 4, chs[0]!, 3, { init: { smooth: 1 / 2, rough: 0.1 } });
  h = resnet(net, h, 'decoder.mid_block.resnets.0', chs[0]!, chs[0]!, groups);
  let ch = chs[0]!;
  for (let i = 0; i < chs.length; i++) {
    h = resnet(net, h, `decoder.up_blocks.${i}.resnets.0`, ch, chs[i]!, groups);
    ch = chs[i]!;
    if (i < chs.length - 1) {
      h = net.upsample2x(h, `decoder.up_blocks.${i}.upsamplers.0`);
      h = net.conv(h, `decoder.up_blocks.${i}.upsamplers.0.conv`, ch, ch, 3, { init: { smooth: 1 / Math.sqrt(ch), rough: 0.2 / Math.sqrt(9 * ch) } });
    }
  }
  h = net.silu(net.groupNorm(h, 'decoder.conv_norm_out', ch, groups, { eps: 1e-6 }), 'decoder.conv_act');
  const detail = net.conv(h, 'decoder.conv_out', ch, 3, 3, { init: { smooth: 0, rough: (opts.detail ?? 0.25) / Math.sqrt(ch), zeroSum: true } });
  let out = net.op('Add', [base, detail], {}, 'decoder');
  if (io === DataType.FLOAT16) out = net.op('Cast', [out], { to: DataType.FLOAT16 }, 'output_cast');
  net.b.identity(out, 'sample');
  net.b.addOutput('sample', io, ['batch', 3, 'height', 'width']);
  net.model.producerName = 'inversion-studio-demo';
  return net.model;
}

function invert3(m: number[][]): number[][] {
  const [a, b, c] = m[0]!;
  const [d, e, f] = m[1]!;
  const [g, h, i] = m[2]!;
  const A = e! * i! - f! * h!;
  const B = -(d! * i! - f! * g!);
  const C = d! * h! - e! * g!;
  const det = a! * A + b! * B + c! * C;
  return [
    [A / det, -(b! * i! - c! * h!) / det, (b! * f! - c! * e!) / det],
    [B / det, (a! * i! - c! * g!) / det, -(a! * f! - c! * d!) / det],
    [C / det, -(a! * h! - b! * g!) / det, (a! * e! - b! * d!) / det],
  ];
}

/**
 * Weights [4, 3, 8, 8] of the stride-8 conv that inverts the decoder's linear path: channels 0-2
 * from each block's mean colour through the inverse colour map, channel 3 from the block's
 * correlation with the texture bump (zero-mean, so the two do not interfere).
 */
function inverseLinearPath(g: number): Float32Array {
  const M = [0, 1, 2].map((k) => [0, 1, 2].map((c) => DEMO_LATENT_COLOURS[c]![k]! * g)); // M[k][c]
  const inv = invert3(M); // inv[c][k]
  const pat = demoTexturePattern();
  const col3 = DEMO_LATENT_COLOURS[3]!;
  const pp = pat.reduce((s, v) => s + v * v, 0);
  const cc = col3.reduce((s, v) => s + v * v, 0);
  const w = new Float32Array(4 * 3 * 64);
  for (let k = 0; k < 3; k++) {
    for (let o = 0; o < 64; o++) {
      for (let c = 0; c < 3; c++) w[(c * 3 + k) * 64 + o] = inv[c]![k]! / 64;
      w[(3 * 3 + k) * 64 + o] = (col3[k]! * pat[o]!) / (g * cc * pp);
    }
  }
  return w;
}

export function buildVaeEncoderModel(opts: VaeOptions): Model {
  const chs = [...(opts.channels ?? [64, 32, 32, 16])].reverse();
  const groups = opts.groups ?? 8;
  const sf = opts.scalingFactor ?? 0.18215;
  const net = new Net(opts.seed + 1, opts.weights ?? 'float32', opts.opset ?? 17, 'vae_encoder');
  const io = opts.ioDtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const xIn = net.b.addInput('sample', io, ['batch', 3, 'height', 'width']);
  const x = io === DataType.FLOAT16 ? net.op('Cast', [xIn], { to: DataType.FLOAT }, 'input_cast') : xIn;

  // Inverse of the decoder's linear path: one stride-8 conv.
  const base = net.conv(x, 'encoder.linear_inverse', 3, 4, 8, { stride: 8, pad: 0, init: { values: inverseLinearPath(sf * (opts.colourGain ?? DEMO_COLOUR_GAIN)) } });

  // Network path (AutoencoderKL encoder layout, small); its mean half is added with a small gain.
  let h = net.conv(x, 'encoder.conv_in', 3, chs[0]!, 3, { init: { smooth: 1, rough: 0.2 } });
  let ch = chs[0]!;
  for (let i = 0; i < chs.length; i++) {
    h = resnet(net, h, `encoder.down_blocks.${i}.resnets.0`, ch, chs[i]!, groups);
    ch = chs[i]!;
    if (i < chs.length - 1) h = net.conv(h, `encoder.down_blocks.${i}.downsamplers.0.conv`, ch, ch, 3, { stride: 2, init: { smooth: 1 / Math.sqrt(ch), rough: 0.2 / Math.sqrt(9 * ch) } });
  }
  h = resnet(net, h, 'encoder.mid_block.resnets.0', ch, ch, groups);
  h = net.silu(net.groupNorm(h, 'encoder.conv_norm_out', ch, groups, { eps: 1e-6 }), 'encoder.conv_act');
  h = net.conv(h, 'encoder.conv_out', ch, 8, 3, { init: { smooth: 0.05 / Math.sqrt(ch), rough: 0 } });
  const moments = net.conv(h, 'quant_conv', 8, 8, 1, { init: { smooth: 0, identity: 1 } });
  const mean = net.b.slice(moments, [0], [4], [1]);
  let out = net.op('Add', [base, mean], {}, 'encoder');
  if (io === DataType.FLOAT16) out = net.op('Cast', [out], { to: DataType.FLOAT16 }, 'output_cast');
  net.b.identity(out, 'latent_sample');
  net.b.addOutput('latent_sample', io, ['batch', 4, 'latent_height', 'latent_width']);
  net.model.producerName = 'inversion-studio-demo';
  return net.model;
}
