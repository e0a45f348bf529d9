import { describe, expect, it } from 'vitest';
import { decodePayloadGrid, encodeAttentionPayload, gridSize } from '../../../../src/main/engine/attention/payload.js';
import type { Segmentation } from '../../../../src/main/engine/attention/segment.js';

function seg(width: number, height: number, heats: Float32Array[]): Segmentation {
  return {
    prompt: 'a fox',
    width,
    height,
    threshold: 0.4,
    backgroundThreshold: 0.4,
    words: heats.map((heat, k) => ({
      word: `w${k}`,
      positions: [k + 1],
      tokens: [`w${k}</w>`],
      occurrences: 1,
      heat,
      mask: new Uint8Array(heat.length),
      area: 0.25,
    })),
    labels: new Uint8Array(width * height),
    layers: [],
    timesteps: [],
  };
}

describe('attention payload', () => {
  it('box-averages each word onto a small grid of bytes, keeping the aspect ratio', () => {
    // 4x2 image: left half 1, right half 0.5 -> a 2x1 grid [255, 128]
    const heat = Float32Array.from([1, 1, 0.5, 0.5, 1, 1, 0.5, 0.5]);
    const p = encodeAttentionPayload(seg(4, 2, [heat]), 2);
    expect([p.width, p.height, p.imageWidth, p.imageHeight, p.threshold]).toEqual([2, 1, 4, 2, 0.4]);
    expect([...decodePayloadGrid(p, 0)]).toEqual([255, 128]);
    expect(p.words[0]).toMatchObject({ word: 'w0', tokens: ['w0</w>'], area: 0.25 });
    expect(JSON.parse(JSON.stringify(p))).toEqual(p); // plain JSON: travels over any IPC hop
  });

  it('never grows past the segmentation size and stays small for large images', () => {
    expect(gridSize(3, 2, 64)).toEqual({ width: 3, height: 2 });
    expect(gridSize(512, 384, 64)).toEqual({ width: 64, height: 48 });
    const big = seg(512, 512, [new Float32Array(512 * 512).fill(0.2), new Float32Array(512 * 512)]);
    const p = encodeAttentionPayload(big);
    expect([p.width, p.height]).toEqual([64, 64]);
    expect(JSON.stringify(p).length).toBeLessThan(12_000);
    expect(decodePayloadGrid(p, 0).every((v) => v === 51)).toBe(true);
    expect(() => decodePayloadGrid(p, 2)).toThrow(/has 2 words, not 3/);
    expect(() => encodeAttentionPayload(big, 0)).toThrow(/grid side/);
  });
});
