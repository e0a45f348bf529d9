import { describe, expect, it } from 'vitest';
import {
  canvasSize,
  colourise,
  containedPoint,
  decodeGrid,
  heatColour,
  rankWordsAt,
  sampleGrid,
  upsample,
} from '../../../../src/renderer/components/attention/heatmap.js';

const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');
// A 2x2 grid per word: "left" hot on the left column, "right" on the right one.
const maps = {
  width: 2,
  height: 2,
  words: [
    { word: 'left', tokens: ['left'], area: 0.5, grid: b64([255, 0, 255, 0]) },
    { word: 'right', tokens: ['right'], area: 0.5, grid: b64([0, 255, 0, 255]) },
  ],
};

describe('the overlay arithmetic', () => {
  it('decodes the base64 grids (empty for a malformed one)', () => {
    expect([...decodeGrid(maps, 0)]).toEqual([255, 0, 255, 0]);
    expect(decodeGrid({ ...maps, width: 3 }, 0)).toHaveLength(0);
    expect(decodeGrid(maps, 5)).toHaveLength(0);
  });

  it('samples bilinearly between cell centres, clamped at the edges', () => {
    const g = decodeGrid(maps, 0);
    expect(sampleGrid(g, 2, 2, 0.5, 0.5)).toBe(1); // centre of the hot cell
    expect(sampleGrid(g, 2, 2, 1.5, 0.5)).toBe(0);
    expect(sampleGrid(g, 2, 2, 1, 1)).toBeCloseTo(0.5); // half way
    expect(sampleGrid(g, 2, 2, -5, 0)).toBe(1);
    const up = upsample(g, 2, 2, 4, 1);
    expect([...up].map((v) => Number(v.toFixed(3)))).toEqual([1, 0.75, 0.25, 0]);
  });

  it('colours the mask (heat ≥ threshold) at the opacity and leaves the rest transparent', () => {
    const { rgba, maskPixels } = colourise(Float32Array.from([0.1, 0.5, 1]), 0.4, 0.5);
    expect(maskPixels).toBe(2);
    expect([...rgba.slice(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(rgba[7]).toBe(128);
    expect([...rgba.slice(8, 11)]).toEqual([...heatColour(1)]);
    expect(heatColour(0)).toEqual([18, 10, 52]);
    expect(colourise(Float32Array.from([0, 0.2]), 0, 1).maskPixels).toBe(2);
  });

  it('ranks the words at a pixel, strongest first', () => {
    const grids = [decodeGrid(maps, 0), decodeGrid(maps, 1)];
    expect(rankWordsAt(maps, grids, 0.1, 0.5).map((r) => r.word)).toEqual(['left', 'right']);
    const right = rankWordsAt(maps, grids, 0.9, 0.2);
    expect(right[0]).toEqual({ word: 'right', heat: 1 });
  });

  it("maps a pointer onto contained content and sizes the canvas to the image's aspect", () => {
    // 200x100 content in a 100x100 box: drawn 100x50, centred vertically (25px bands).
    const rect = { left: 10, top: 20, width: 100, height: 100 };
    expect(containedPoint(rect, 200, 100, 10, 45)).toEqual({ u: 0, v: 0 });
    expect(containedPoint(rect, 200, 100, 60, 70)).toEqual({ u: 0.5, v: 0.5 });
    expect(containedPoint(rect, 200, 100, 60, 30)).toBeUndefined(); // in the band above
    expect(canvasSize(1024, 512)).toEqual({ width: 384, height: 192 });
    expect(canvasSize(64, 48)).toEqual({ width: 64, height: 48 });
  });
});
