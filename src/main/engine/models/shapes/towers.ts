/**
 * The small CNN image trunk shared (as an architecture, not as weights) by the world's CLIP image
 * tower and its captioner: 64x64 RGB in [-1, 1] -> a feature vector.
 *
 *   conv_in (3x3, stride 2: 64 -> 32), then per level a ResNet block and a stride-2 conv
 *   (32 -> 16 -> 8 -> 4), GroupNorm + SiLU, flatten the 4x4 map (positions matter: no global
 *   pooling, "left" and "right" must stay apart), Linear -> SiLU.
 */
import type { Net } from '../demo/nn.js';
import { downsample, resnetBlock } from './layers.js';

export interface TrunkOptions {
  /** Channels of conv_in and of each level (levels at 32, 16, 8 px; a 4x4 map comes out). */
  channels: number[];
  groups: number;
  /** Width of the feature vector. */
  hidden: number;
}

/** Image side the trunk expects (the world's native size). */
export const TRUNK_INPUT_SIZE = 64;

/**
 * Append the trunk to `net`: `x` [B,3,64,64] -> [B, hidden]. Parameters are named `${prefix}.…`.
 */
export function imageTrunk(net: Net, x: string, prefix: string, o: TrunkOptions): string {
  const chs = o.channels;
  let h = net.conv(x, `${prefix}.conv_in`, 3, chs[0]!, 3, { stride: 2, pad: 1 });
  let ch = chs[0]!;
  let side = TRUNK_INPUT_SIZE / 2;
  for (let i = 0; i < chs.length; i++) {
    h = resnetBlock(net, h, `${prefix}.blocks.${i}.resnets.0`, ch, chs[i]!, o.groups);
    ch = chs[i]!;
    h = downsample(net, h, `${prefix}.blocks.${i}.downsamplers.0`, ch);
    side /= 2;
  }
  h = net.silu(net.groupNorm(h, `${prefix}.norm_out`, ch, o.groups, { eps: 1e-6 }), `${prefix}.act_out`);
  const flat = net.b.reshape(h, [0, ch * side * side]);
  return net.silu(net.linear(flat, `${prefix}.fc`, ch * side * side, o.hidden), `${prefix}.act_fc`);
}

/** Side of the trunk's last feature map for `levels` levels. */
export function trunkMapSide(levels: number): number {
  return TRUNK_INPUT_SIZE / 2 / 2 ** levels;
}
