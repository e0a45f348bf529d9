/** The exact renderer: determinism, anti-aliasing, masks, geometry bounds, tensors. */
import { describe, expect, it } from 'vitest';
import {
  ANCHORS,
  BACKGROUND_RGB,
  COLOUR_RGB,
  createRng,
  EXTENT,
  imageToTensor,
  objectPlacements,
  parsePrompt,
  renderScene,
  sampleScene,
  sceneToTensor,
  SHAPES,
  tensorToImage,
  type Scene,
} from '../../../../../../src/main/engine/models/shapes/world/index.js';

const scene = (text: string): Scene => parsePrompt(text);
const pixel = (img: { width: number; rgb: Uint8Array }, x: number, y: number) => [...img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

describe('shapes world renderer', () => {
  it('is deterministic in (scene, size, seed) and the seed only moves the objects', () => {
    const s = scene('a small red square on the left and a large blue circle on the right on a gray background');
    const a = renderScene(s, { seed: 3 });
    expect(renderScene(s, { seed: 3 }).rgb).toEqual(a.rgb);
    expect(renderScene(s, { seed: 4 }).rgb).not.toEqual(a.rgb);
    expect(a.width).toBe(64);
    expect(a.height).toBe(64);
    expect(a.rgb.length).toBe(64 * 64 * 3);
    expect(a.data).toBe(a.rgb);
    expect(a.masks).toHaveLength(2);
    for (const m of a.masks) {
      expect(m.length).toBe(64 * 64);
      expect(m.every((v) => v === 0 || v === 1)).toBe(true);
    }
    const exact = renderScene(s, { jitter: false });
    expect(exact.placements).toEqual([
      { cx: 0.25, cy: 0.5, extent: EXTENT.small },
      { cx: 0.75, cy: 0.5, extent: EXTENT.large },
    ]);
  });

  it('paints the background and object colours exactly, with blended anti-aliased edges', () => {
    const img = renderScene(scene('a large green square in the center on a white background'), { jitter: false });
    expect(pixel(img, 1, 1)).toEqual([...BACKGROUND_RGB.white]);
    expect(pixel(img, 32, 32)).toEqual([...COLOUR_RGB.green]);
    const colours = new Set<string>();
    for (let p = 0; p < 64 * 64; p++) colours.add(img.rgb.subarray(p * 3, p * 3 + 3).join(','));
    // Not a two-colour image: the box edge (0.29..0.71 of 64 px) falls inside pixels.
    expect(colours.size).toBeGreaterThan(2);
    // Mask = pixel centres inside: the large square spans 0.5 ± 0.21 of the side.
    const area = img.masks[0]!.reduce((a, b) => a + b, 0);
    expect(Math.abs(area - (0.42 * 64) ** 2)).toBeLessThan(0.42 * 64 * 4 + 4);
    // Outside the mask's 1-pixel border, pixels are pure background.
    const m = img.masks[0]!;
    for (let y = 1; y < 63; y++)
      for (let x = 1; x < 63; x++) {
        let near = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) near |= m[(y + dy) * 64 + x + dx]!;
        if (!near && pixel(img, x, y).join() !== BACKGROUND_RGB.white.join()) expect(pixel(img, x, y)).toEqual([...BACKGROUND_RGB.white]);
      }
  });

  it('keeps every shape inside its box, with the expected area', () => {
    const fill = { circle: Math.PI / 4, square: 1, triangle: 0.5, diamond: 0.5, cross: 5 / 9 };
    for (const shape of SHAPES) {
      const img = renderScene({ background: 'black', objects: [{ shape, colour: 'yellow', size: 'large', position: 'center' }] }, { size: 128, jitter: false });
      const side = 0.42 * 128;
      const area = img.masks[0]!.reduce((a, b) => a + b, 0);
      expect(Math.abs(area / (fill[shape] * side * side) - 1)).toBeLessThan(0.06);
      let outside = 0;
      for (let p = 0; p < 128 * 128; p++) {
        const x = (p % 128) + 0.5;
        const y = Math.floor(p / 128) + 0.5;
        if (img.masks[0]![p] && (Math.abs(x - 64) > side / 2 || Math.abs(y - 64) > side / 2)) outside++;
      }
      expect(outside).toBe(0);
    }
  });

  it('never lets objects touch each other or leave the image, however the jitter falls', () => {
    const rng = createRng(9);
    for (let seed = 0; seed < 150; seed++) {
      const s = sampleScene(rng, { twoObjectFraction: 1, split: 'all' });
      for (const o of s.objects) o.size = 'large';
      const img = renderScene(s, { seed });
      const [a, b] = img.masks as [Uint8Array, Uint8Array];
      // No pixel of one object within one pixel (8-neighbourhood) of the other.
      let touching = 0;
      for (let p = 0; p < 64 * 64; p++) {
        if (!a[p]) continue;
        const x = p % 64;
        const y = (p - x) / 64;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            const yy = y + dy;
            if (xx >= 0 && xx < 64 && yy >= 0 && yy < 64) touching += b[yy * 64 + xx]!;
          }
      }
      expect(touching).toBe(0);
      for (const pl of img.placements) {
        expect(pl.cx - pl.extent / 2).toBeGreaterThan(0);
        expect(pl.cx + pl.extent / 2).toBeLessThan(1);
        expect(pl.cy - pl.extent / 2).toBeGreaterThan(0);
        expect(pl.cy + pl.extent / 2).toBeLessThan(1);
      }
    }
  });

  it('jitters placements by a few percent around the anchors', () => {
    const s = scene('a small red circle at the top on a gray background');
    const xs = new Set<number>();
    for (let seed = 0; seed < 50; seed++) {
      const [p] = objectPlacements(s, seed);
      expect(Math.abs(p!.cx - ANCHORS.top[0])).toBeLessThanOrEqual(0.02);
      expect(Math.abs(p!.cy - ANCHORS.top[1])).toBeLessThanOrEqual(0.02);
      expect(Math.abs(p!.extent / EXTENT.small - 1)).toBeLessThanOrEqual(0.04);
      xs.add(p!.cx);
    }
    expect(xs.size).toBe(50);
  });

  it('renders at any square size and rejects bad sizes', () => {
    const s = scene('a large purple triangle on the right on a brown background');
    const big = renderScene(s, { size: 256, seed: 1 });
    expect(big.rgb.length).toBe(256 * 256 * 3);
    const small = renderScene(s, { size: 64, seed: 1 });
    const ratio = big.masks[0]!.reduce((a, b) => a + b, 0) / small.masks[0]!.reduce((a, b) => a + b, 0);
    expect(ratio).toBeGreaterThan(15);
    expect(ratio).toBeLessThan(17);
    expect(() => renderScene(s, { size: 3 })).toThrow(/size/);
    expect(() => renderScene(s, { size: 64.5 })).toThrow(/size/);
    expect(() => renderScene({ background: 'gray', objects: [] })).toThrow(/one or two objects/);
  });

  it('converts to CHW float32 in [-1, 1] and back exactly', () => {
    const s = scene('a small cyan cross on the left and a small orange diamond on the right on a black background');
    const img = renderScene(s, { seed: 2 });
    const t = sceneToTensor(s, { seed: 2 });
    expect(t).toEqual(imageToTensor(img));
    expect(t.length).toBe(3 * 64 * 64);
    expect(Math.min(...t)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...t)).toBeLessThanOrEqual(1);
    // Channel-major: element c·H·W + y·W + x is channel c of pixel (x, y).
    const [x, y] = [16, 32];
    for (let c = 0; c < 3; c++) expect(t[c * 4096 + y * 64 + x]).toBeCloseTo(img.rgb[(y * 64 + x) * 3 + c]! / 127.5 - 1, 6);
    expect(tensorToImage(t, 64, 64).rgb).toEqual(img.rgb);
    expect(() => tensorToImage(t, 32, 32)).toThrow(/values/);
  });
});
