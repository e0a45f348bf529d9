/**
 * Sizes of every network of the shapes model set, in one place: the full configuration that
 * `npm run train:shapes` trains and commits, and a tiny one for tests and quick checks (same
 * topology, fewer channels and layers).
 */
import type { UnetOptions } from '../demo/unet.js';
import type { ShapesVaeOptions } from './vae.js';
import type { TrunkOptions } from './towers.js';

export interface ShapesArchitecture {
  text: { hidden: number; layers: number; heads: number };
  /** Width of the world CLIP's joint space. */
  clipDim: number;
  clipImage: TrunkOptions;
  captioner: TrunkOptions;
  vae: Required<Omit<ShapesVaeOptions, 'weights' | 'seed'>>;
  unet: Pick<UnetOptions, 'channels' | 'layersPerBlock' | 'attentionLevels' | 'heads' | 'groups'>;
}

export const FULL_ARCHITECTURE: ShapesArchitecture = {
  text: { hidden: 128, layers: 3, heads: 4 },
  clipDim: 128,
  clipImage: { channels: [32, 64, 128], groups: 8, hidden: 256 },
  captioner: { channels: [32, 64, 128], groups: 8, hidden: 256 },
  vae: { channels: [16, 32, 64, 64], resnets: [0, 1, 1, 1], latentChannels: 4, groups: 8 },
  // cross-attention at every level, 8x8 included (segmentation reads those maps)
  unet: { channels: [32, 64, 128], layersPerBlock: 1, attentionLevels: [true, true, true], heads: 4, groups: 8 },
};

/** The same topology at toy width (tests, `--tiny`). Text width stays 128 only where the set's I/O needs it. */
export const TINY_ARCHITECTURE: ShapesArchitecture = {
  text: { hidden: 32, layers: 1, heads: 2 },
  clipDim: 32,
  clipImage: { channels: [8, 8, 16], groups: 4, hidden: 32 },
  captioner: { channels: [8, 8, 16], groups: 4, hidden: 32 },
  vae: { channels: [8, 8, 16, 16], resnets: [0, 1, 1, 1], latentChannels: 4, groups: 4 },
  unet: { channels: [16, 16, 32], layersPerBlock: 1, attentionLevels: [true, true, true], heads: 2, groups: 4 },
};
