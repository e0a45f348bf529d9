/**
 * The shapes set's VAE (f = 8: 64x64x3 <-> 8x8x4), an AutoencoderKL in diffusers' layout and
 * state-dict names, built with the project's layer builders:
 *
 *   encoder: conv_in, down_blocks.{i}.resnets.0 (+ downsamplers.0 on all but the last), mid_block,
 *            conv_norm_out/SiLU/conv_out -> 2 x latent channels (mean, logvar), quant_conv
 *   decoder: post_quant_conv, conv_in, mid_block, up_blocks.{i}.resnets.0 (+ upsamplers.0),
 *            conv_norm_out/SiLU/conv_out -> RGB
 *
 * Exported interfaces (the public exports'): vae_encoder `sample` [B,3,H,W] -> `latent_sample`
 * [B,4,H/8,W/8], the posterior mean (deterministic); vae_decoder `latent_sample` [B,4,h,w] ->
 * `sample` [B,3,8h,8w]. Latents are unscaled here; the pipeline multiplies by `scaling_factor`
 * (vae_decoder/config.json) after encoding and divides before decoding.
 *
 * The training graph joins both halves: z = mean + exp(logvar / 2) * eps with eps fed as an input
 * (the reparameterisation), so the loss can add the KL term.
 */
import { DataType } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { Net, type WeightPrecision } from '../demo/nn.js';
import { downsample, resnetBlock, upsample } from './layers.js';

export interface ShapesVaeOptions {
  /** Channels per resolution from the image side inward, one entry per level (4 levels = f 8). */
  channels: number[];
  /** ResNet blocks per level (default one each; 0 at the image level keeps full-resolution work to a conv). */
  resnets?: number[];
  latentChannels?: number;
  groups?: number;
  weights?: WeightPrecision;
  seed?: number;
}

export const SHAPES_VAE_DEFAULTS: Required<Omit<ShapesVaeOptions, 'weights' | 'seed'>> = {
  channels: [16, 32, 64, 64],
  resnets: [1, 1, 1, 1],
  latentChannels: 4,
  groups: 8,
};

function opts(o: Partial<ShapesVaeOptions>): Required<Omit<ShapesVaeOptions, 'weights' | 'seed'>> & { weights: WeightPrecision; seed: number } {
  return { ...SHAPES_VAE_DEFAULTS, weights: 'float32', seed: 1, ...o };
}

/** Encoder body: image [B,3,H,W] -> moments [B, 2 * latent, H/8, W/8] (after quant_conv). */
export function vaeEncoderBody(net: Net, x: string, o: Partial<ShapesVaeOptions> = {}): string {
  const { channels: chs, groups, latentChannels, resnets } = opts(o);
  let h = net.conv(x, 'encoder.conv_in', 3, chs[0]!, 3);
  let ch = chs[0]!;
  for (let i = 0; i < chs.length; i++) {
    const n = resnets[i] ?? 1;
    for (let j = 0; j < n; j++) {
      h = resnetBlock(net, h, `encoder.down_blocks.${i}.resnets.${j}`, ch, chs[i]!, groups);
      ch = chs[i]!;
    }
    if (n === 0 && ch !== chs[i]) {
      h = net.conv(h, `encoder.down_blocks.${i}.conv_shortcut`, ch, chs[i]!, 1);
      ch = chs[i]!;
    }
    if (i < chs.length - 1) h = downsample(net, h, `encoder.down_blocks.${i}.downsamplers.0`, ch);
  }
  h = resnetBlock(net, h, 'encoder.mid_block.resnets.0', ch, ch, groups);
  h = net.silu(net.groupNorm(h, 'encoder.conv_norm_out', ch, groups, { eps: 1e-6 }), 'encoder.conv_act');
  h = net.conv(h, 'encoder.conv_out', ch, 2 * latentChannels, 3);
  return net.conv(h, 'quant_conv', 2 * latentChannels, 2 * latentChannels, 1);
}

/** Decoder body: latent [B, latent, h, w] -> image [B, 3, 8h, 8w]. */
export function vaeDecoderBody(net: Net, z: string, o: Partial<ShapesVaeOptions> = {}): string {
  const { channels, groups, latentChannels, resnets } = opts(o);
  const chs = [...channels].reverse();
  const counts = [...resnets].reverse();
  let h = net.conv(z, 'post_quant_conv', latentChannels, latentChannels, 1);
  h = net.conv(h, 'decoder.conv_in', latentChannels, chs[0]!, 3);
  let ch = chs[0]!;
  h = resnetBlock(net, h, 'decoder.mid_block.resnets.0', ch, ch, groups);
  for (let i = 0; i < chs.length; i++) {
    const n = counts[i] ?? 1;
    for (let j = 0; j < n; j++) {
      h = resnetBlock(net, h, `decoder.up_blocks.${i}.resnets.${j}`, ch, chs[i]!, groups);
      ch = chs[i]!;
    }
    if (n === 0 && ch !== chs[i]) {
      h = net.conv(h, `decoder.up_blocks.${i}.conv_shortcut`, ch, chs[i]!, 1);
      ch = chs[i]!;
    }
    if (i < chs.length - 1) h = upsample(net, h, `decoder.up_blocks.${i}.upsamplers.0`, ch);
  }
  h = net.silu(net.groupNorm(h, 'decoder.conv_norm_out', ch, groups, { eps: 1e-6 }), 'decoder.conv_act');
  return net.conv(h, 'decoder.conv_out', ch, 3, 3);
}

/** vae_encoder/model.onnx: `sample` [B,3,H,W] -> `latent_sample` = posterior mean [B,4,H/8,W/8]. */
export function buildShapesVaeEncoder(o: Partial<ShapesVaeOptions> = {}): Model {
  const p = opts(o);
  const net = new Net(p.seed, p.weights, 17, 'vae_encoder');
  const x = net.b.addInput('sample', DataType.FLOAT, ['batch', 3, 'height', 'width']);
  const moments = vaeEncoderBody(net, x, p);
  const mean = net.b.slice(moments, [0], [p.latentChannels], [1]);
  net.b.identity(mean, 'latent_sample');
  net.b.addOutput('latent_sample', DataType.FLOAT, ['batch', p.latentChannels, 'latent_height', 'latent_width']);
  net.model.producerName = 'inversion-studio-shapes';
  return net.model;
}

/** vae_decoder/model.onnx: `latent_sample` [B,4,h,w] -> `sample` [B,3,8h,8w]. */
export function buildShapesVaeDecoder(o: Partial<ShapesVaeOptions> = {}): Model {
  const p = opts(o);
  const net = new Net(p.seed, p.weights, 17, 'vae_decoder');
  const z = net.b.addInput('latent_sample', DataType.FLOAT, ['batch', p.latentChannels, 'latent_height', 'latent_width']);
  const img = vaeDecoderBody(net, z, p);
  net.b.identity(img, 'sample');
  net.b.addOutput('sample', DataType.FLOAT, ['batch', 3, 'height', 'width']);
  net.model.producerName = 'inversion-studio-shapes';
  return net.model;
}

/**
 * The training graph's forward part: `image` [B,3,H,W] and `eps` [B,4,h,w] -> outputs
 * `reconstruction`, `latent_mean`, `latent_logvar` (logvar clipped to [-30, 20] as diffusers does).
 */
export function buildShapesVaeAutoencoder(o: Partial<ShapesVaeOptions> = {}): Model {
  const p = opts(o);
  const net = new Net(p.seed, p.weights, 17, 'vae');
  const b = net.b;
  const x = b.addInput('image', DataType.FLOAT, ['batch', 3, 'height', 'width']);
  const eps = b.addInput('eps', DataType.FLOAT, ['batch', p.latentChannels, 'latent_height', 'latent_width']);
  const moments = vaeEncoderBody(net, x, p);
  const [mean, rawLogvar] = b.split(moments, 1, [p.latentChannels, p.latentChannels]);
  const logvar = net.op('Clip', [rawLogvar!, net.scalar(-30, 'logvar_min'), net.scalar(20, 'logvar_max')], {}, 'posterior');
  const std = net.op('Exp', [net.op('Mul', [logvar, net.scalar(0.5, 'half')], {}, 'posterior')], {}, 'posterior');
  const z = net.op('Add', [mean!, net.op('Mul', [std, eps], {}, 'posterior')], {}, 'posterior');
  const img = vaeDecoderBody(net, z, p);
  b.identity(img, 'reconstruction');
  b.addOutput('reconstruction', DataType.FLOAT, ['batch', 3, 'height', 'width']);
  b.identity(mean!, 'latent_mean');
  b.addOutput('latent_mean', DataType.FLOAT, ['batch', p.latentChannels, 'latent_height', 'latent_width']);
  b.identity(logvar, 'latent_logvar');
  b.addOutput('latent_logvar', DataType.FLOAT, ['batch', p.latentChannels, 'latent_height', 'latent_width']);
  return net.model;
}
