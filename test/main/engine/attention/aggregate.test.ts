import { describe, expect, it } from 'vitest';
import {
  maskArea,
  multiLabel,
  normaliseMinMax,
  selectLayers,
  thresholdMask,
  tokenHeatMap,
  wordHeatMap,
} from '../../../../src/main/engine/attention/aggregate.js';
import { resizeBicubic } from '../../../../src/main/engine/attention/bicubic.js';
import type { CrossAttentionLayer } from '../../../../src/main/engine/attention/find-cross-attention.js';
import { AttentionAccumulator, mapSize, type CapturedAttention, type LayerAttention } from '../../../../src/main/engine/attention/maps.js';
import { EngineError } from '../../../../src/main/engine/errors.js';

const close = (got: ArrayLike<number>, want: number[], eps = 1e-6): void => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i]! - w), `index ${i}: ${got[i]} vs ${w}`).toBeLessThan(eps));
};

function layer(
  index: number,
  block: CrossAttentionLayer['block'],
  height: number,
  width: number,
  factor: number,
  columns: number[][],
): LayerAttention {
  // columns[t] = the map of text position t (height·width values); stored pixel-major.
  const positions = columns.length;
  const data = new Float32Array(height * width * positions);
  columns.forEach((col, t) => col.forEach((v, p) => (data[p * positions + t] = v)));
  return {
    layer: { index, name: `layer${index}`, block, node: `n${index}`, probabilities: `p${index}` },
    height,
    width,
    factor,
    positions,
    data,
  };
}

describe('resizeBicubic (PyTorch bicubic, align_corners=False, a = -0.75)', () => {
  it('upsamples [0, 1] to 4 pixels with the hand-computed Keys weights (including the undershoot)', () => {
    // Output pixel 0 samples x = -0.25: taps at clamped indices 0,0,0,1 with weights
    // w(1.75) = -0.03515625, w(0.75) = 0.26171875, w(0.25) = 0.87890625, w(1.25) = -0.10546875.
    close(resizeBicubic([0, 1], 1, 2, 1, 4), [-0.10546875, 0.2265625, 0.7734375, 1.10546875]);
  });

  it('keeps a constant map constant, is the identity at the same size, and is separable', () => {
    close(resizeBicubic(new Float32Array(6).fill(0.25), 2, 3, 5, 7), new Array(35).fill(0.25));
    close(resizeBicubic([1, 2, 3, 4], 2, 2, 2, 2), [1, 2, 3, 4]);
    // A column [0; 1] resized to 4 rows gives the same profile as the row case.
    close(resizeBicubic([0, 1], 2, 1, 4, 1), [-0.10546875, 0.2265625, 0.7734375, 1.10546875]);
  });
});

describe('heat maps (DAAM aggregation)', () => {
  // Latent 2x2; layer 0 at factor 1 (2x2), layer 1 at factor 2 (1x1), layer 2 the mid block.
  const captured: CapturedAttention = {
    latentHeight: 2,
    latentWidth: 2,
    positions: 3,
    timesteps: [900, 500],
    layers: [
      layer(0, 'down', 2, 2, 1, [
        [0.5, 0.5, 0.5, 0.5],
        [0.1, 0.2, 0.3, 0.4],
        [0, 0, 0, 0.8],
      ]),
      layer(1, 'up', 1, 1, 2, [[0.4], [0.5], [0.1]]),
      layer(2, 'mid', 1, 1, 2, [[0], [9], [9]]),
    ],
  };

  it('token map = mean over the selected layers of the upsampled step sums (mid left out)', () => {
    // layer 0 as is, layer 1's single pixel spread evenly: mean([.1,.2,.3,.4], [.5,.5,.5,.5])
    close(tokenHeatMap(captured, 1), [0.3, 0.35, 0.4, 0.45]);
  });

  it('word map = mean of its tokens maps', () => {
    // position 2: mean([0,0,0,.8], [.1,.1,.1,.1]) = [.05,.05,.05,.45]; word = mean with position 1
    close(wordHeatMap(captured, [1, 2]), [0.175, 0.2, 0.225, 0.45]);
  });

  it('clamps bicubic undershoot at 0 before averaging', () => {
    const c: CapturedAttention = {
      latentHeight: 1,
      latentWidth: 2,
      positions: 1,
      timesteps: [1],
      layers: [layer(0, 'down', 1, 2, 1, [[0, 1]])],
    };
    close(tokenHeatMap(c, 0, { height: 1, width: 4 }), [0, 0.2265625, 0.7734375, 1.10546875]);
  });

  it('selects layers by factor and block, or by name/index', () => {
    expect(selectLayers(captured).map((l) => l.layer.index)).toEqual([0, 1]);
    expect(selectLayers(captured, { maxFactor: 1 }).map((l) => l.layer.index)).toEqual([0]);
    expect(selectLayers(captured, { includeMid: true }).map((l) => l.layer.index)).toEqual([0, 1, 2]);
    expect(selectLayers(captured, { only: ['layer2', 0] }).map((l) => l.layer.index)).toEqual([0, 2]);
    close(tokenHeatMap(captured, 1, { layers: { only: ['layer2'] } }), [9, 9, 9, 9]);
    expect(() => selectLayers(captured, { only: ['nope'] })).toThrow(
      /keeps none of the 3 cross-attention layers \(layer0 2x2, layer1 1x1, layer2 1x1\)/,
    );
  });

  it('rejects token positions outside the text', () => {
    expect(() => tokenHeatMap(captured, 3)).toThrow(EngineError);
    expect(() => wordHeatMap(captured, [])).toThrow(/at least one token position/);
  });
});

describe('normalisation, masks, labels', () => {
  it('min-max normalises per map; a flat map becomes zeros', () => {
    close(normaliseMinMax([2, 4, 6, 3]), [0, 0.5, 1, 0.25]);
    close(normaliseMinMax([5, 5]), [0, 0]);
  });

  it('thresholds at τ inclusive and measures the area', () => {
    const m = thresholdMask([0.39, 0.4, 0.9, 0], 0.4);
    expect([...m]).toEqual([0, 1, 1, 0]);
    expect(maskArea(m)).toBe(0.5);
  });

  it('labels each pixel with the best word, background below the threshold, ties to the earlier word', () => {
    const labels = multiLabel(
      [
        [0.9, 0.1, 0.5, 0.3],
        [0.2, 0.8, 0.5, 0.35],
      ],
      0.4,
    );
    expect([...labels]).toEqual([1, 2, 1, 0]);
  });
});

describe('AttentionAccumulator and map sizes', () => {
  it('sums evaluations layer by layer and records the timesteps', () => {
    const acc = new AttentionAccumulator(2, 2);
    const a = layer(0, 'down', 2, 2, 1, [[1, 2, 3, 4]]);
    acc.add([a], 900);
    acc.add([{ ...a, data: Float32Array.from([10, 20, 30, 40]) }], 500);
    const r = acc.result();
    expect(r.timesteps).toEqual([900, 500]);
    expect([...r.layers[0]!.data]).toEqual([11, 22, 33, 44]);
    expect([...a.data]).toEqual([1, 2, 3, 4]); // the first evaluation's arrays are copied, not summed into
    expect(() => acc.add([a, a], 100)).toThrow(/2 layers, expected 1/);
    expect(() => new AttentionAccumulator(1, 1).result()).toThrow(/no attention was captured/);
  });

  it('tells a layer map size from its pixel count, rounding odd sides up', () => {
    expect(mapSize(1024, 32, 32)).toEqual({ height: 32, width: 32, factor: 1 });
    expect(mapSize(64, 32, 32)).toEqual({ height: 8, width: 8, factor: 4 });
    expect(mapSize(12, 5, 7)).toEqual({ height: 3, width: 4, factor: 2 });
    expect(() => mapSize(13, 5, 7)).toThrow(/fits no level of a 5x7 latent/);
  });
});
