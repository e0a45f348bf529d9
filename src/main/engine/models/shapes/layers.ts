/**
 * Building blocks of the shapes-world networks that the demo builders do not have as reusable
 * functions: a diffusers-style ResNet block without a time embedding (VAE, image towers) and a
 * strided downsampling convolution. Parameters are named like the PyTorch state dict, as
 * everywhere in models/demo/nn.ts.
 */
import type { Net } from '../demo/nn.js';

/** GroupNorm -> SiLU -> conv3x3 -> GroupNorm -> SiLU -> conv3x3, plus the (1x1-projected) input. */
export function resnetBlock(net: Net, x: string, path: string, inC: number, outC: number, groups: number): string {
  let h = net.silu(net.groupNorm(x, `${path}.norm1`, inC, groups, { eps: 1e-6 }), `${path}.nonlinearity`);
  h = net.conv(h, `${path}.conv1`, inC, outC, 3);
  h = net.silu(net.groupNorm(h, `${path}.norm2`, outC, groups, { eps: 1e-6 }), `${path}.nonlinearity`);
  h = net.conv(h, `${path}.conv2`, outC, outC, 3);
  const skip = inC === outC ? x : net.conv(x, `${path}.conv_shortcut`, inC, outC, 1);
  return net.op('Add', [skip, h], {}, path);
}

/** 3x3 convolution with stride 2 (halves H and W), as diffusers' Downsample2D. */
export function downsample(net: Net, x: string, path: string, channels: number): string {
  return net.conv(x, `${path}.conv`, channels, channels, 3, { stride: 2, pad: 1 });
}

/** Nearest 2x upsampling followed by a 3x3 convolution, as diffusers' Upsample2D. */
export function upsample(net: Net, x: string, path: string, channels: number): string {
  return net.conv(net.upsample2x(x, path), `${path}.conv`, channels, channels, 3);
}
