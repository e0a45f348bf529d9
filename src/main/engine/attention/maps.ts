/**
 * Captured cross-attention as plain arrays: one map per layer and text position, for a single
 * UNet evaluation or summed over the evaluations of a sampling run (DAAM sums over timesteps).
 */
import { EngineError } from '../errors.js';
import type { CrossAttentionLayer } from './find-cross-attention.js';

/** One layer's attention: per map pixel, the probability of each text position (mean over heads). */
export interface LayerAttention {
  layer: CrossAttentionLayer;
  /** Feature-map size of the layer, pixels. */
  height: number;
  width: number;
  /** Latent side / map side: 1, 2, 4, 8 for SD 1.5's 64², 32², 16², 8² maps at 512 px. */
  factor: number;
  /** Text positions (77). */
  positions: number;
  /** [height·width, positions] row-major: `data[p * positions + t]`. */
  data: Float32Array;
}

/** Attention of a run: per layer the sum over its UNet evaluations. */
export interface CapturedAttention {
  /** Latent size the maps belong to (image size / 8). */
  latentHeight: number;
  latentWidth: number;
  positions: number;
  layers: LayerAttention[];
  /** Timestep of each evaluation summed, in order. */
  timesteps: number[];
}

/**
 * The map size of a layer with `queries` pixels in a latent of h×w: the UNet halves each side per
 * level, rounding up (stride-2 convolutions with padding 1).
 * @throws EngineError('SHAPE_MISMATCH') when no level of the latent has that many pixels
 */
export function mapSize(queries: number, h: number, w: number): { height: number; width: number; factor: number } {
  for (let k = 0, hk = h, wk = w; k <= 12; k++, hk = Math.ceil(hk / 2), wk = Math.ceil(wk / 2)) {
    if (hk * wk === queries) return { height: hk, width: wk, factor: 2 ** k };
    if (hk === 1 && wk === 1) break;
  }
  throw new EngineError('SHAPE_MISMATCH', `an attention map with ${queries} pixels fits no level of a ${h}x${w} latent`);
}

/** Sums per-layer attention over UNet evaluations (memory: one map set, however many steps). */
export class AttentionAccumulator {
  private sums: LayerAttention[] | undefined;
  private readonly timesteps: number[] = [];

  constructor(
    readonly latentHeight: number,
    readonly latentWidth: number,
  ) {}

  /** Add one evaluation's maps (the arrays are copied on first use, then added to). */
  add(maps: readonly LayerAttention[], timestep: number): void {
    if (!this.sums) {
      this.sums = maps.map((m) => ({ ...m, data: Float32Array.from(m.data) }));
    } else {
      if (maps.length !== this.sums.length)
        throw new EngineError('SHAPE_MISMATCH', `got maps of ${maps.length} layers, expected ${this.sums.length}`);
      maps.forEach((m, i) => {
        const s = this.sums![i]!.data;
        if (m.data.length !== s.length)
          throw new EngineError(
            'SHAPE_MISMATCH',
            `layer ${m.layer.name}: ${m.data.length} values, expected ${s.length} (the latent size changed within a run?)`,
          );
        for (let j = 0; j < s.length; j++) s[j] = s[j]! + m.data[j]!;
      });
    }
    this.timesteps.push(timestep);
  }

  /** Evaluations added so far. */
  get count(): number {
    return this.timesteps.length;
  }

  /** @throws EngineError('INVALID_ARGUMENT') when nothing was added */
  result(): CapturedAttention {
    if (!this.sums) throw new EngineError('INVALID_ARGUMENT', 'no attention was captured (no UNet evaluation ran)');
    return {
      latentHeight: this.latentHeight,
      latentWidth: this.latentWidth,
      positions: this.sums[0]?.positions ?? 0,
      layers: this.sums,
      timesteps: [...this.timesteps],
    };
  }
}
