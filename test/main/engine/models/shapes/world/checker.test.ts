/**
 * The checker: it must read ≥ 99% of slots right on rendered scenes, and stay right on the soft,
 * noisy, washed-out images a small VAE and diffusion model produce (corrupt.ts). The figures it
 * prints are the ones docs/shapes-world.md quotes.
 */
import { describe, expect, it } from 'vitest';
import {
  addSlotAccuracy,
  canonicalScene,
  checkImage,
  createRng,
  emptySlotAccuracy,
  parsePrompt,
  renderScene,
  sampleScene,
  sceneToPrompt,
  sceneToTensor,
  slotAccuracy,
  tensorToImage,
  type RenderedScene,
  type Scene,
  type SlotAccuracy,
} from '../../../../../../src/main/engine/models/shapes/world/index.js';
import { blur, fade, noise, type Img } from './corrupt.js';

function scenes(n: number, seed: number): Scene[] {
  const rng = createRng(seed, 'test/checker');
  return Array.from({ length: n }, () => sampleScene(rng, { split: 'all' }));
}

/** Slot accuracy of the checker over `n` scenes rendered (seed i) and then degraded. */
function measure(name: string, n: number, degrade: (img: Img, i: number) => Img, size = 64): SlotAccuracy & { exact: number } {
  let acc = emptySlotAccuracy();
  let exact = 0;
  const misses: string[] = [];
  scenes(n, 1).forEach((s, i) => {
    const read = checkImage(degrade(renderScene(s, { size, seed: i }), i)).scene;
    const a = slotAccuracy(s, read);
    acc = addSlotAccuracy(acc, a);
    if (a.correct === a.total) exact++;
    else if (misses.length < 3) misses.push(`${sceneToPrompt(s)} -> ${JSON.stringify(read.objects)}`);
  });
  const by = Object.entries(acc.bySlot)
    .map(([k, v]) => `${k} ${(v.correct / v.total).toFixed(4)}`)
    .join(', ');
  console.log(`checker ${name} (${n} scenes, ${size} px): slots ${(acc.correct / acc.total).toFixed(4)}, exact scenes ${exact}/${n}; ${by}${misses.length ? `\n  e.g. ${misses.join('\n  e.g. ')}` : ''}`);
  return { ...acc, exact };
}

const expectAccuracy = (a: SlotAccuracy, min: number) => {
  expect(a.correct / a.total).toBeGreaterThanOrEqual(min);
  for (const v of Object.values(a.bySlot)) expect(v.correct / v.total).toBeGreaterThanOrEqual(min - 0.02);
};

describe('shapes world checker', () => {
  it('reads rendered scenes back: ≥ 99% of slots (measured: all)', () => {
    const a = measure('clean', 300, (img) => img);
    expectAccuracy(a, 0.99);
    expect(a.exact).toBeGreaterThanOrEqual(297);
  });

  it('stays ≥ 99% on blurred, noisy and faded renders', () => {
    expectAccuracy(measure('blur σ=1.5 px', 100, (img) => blur(img, 1.5)), 0.99);
    expectAccuracy(measure('noise σ=20', 100, (img, i) => noise(img, 20, i)), 0.99);
    expectAccuracy(
      measure('blur σ=2 px + noise σ=15', 100, (img, i) => noise(blur(img, 2), 15, i)),
      0.99,
    );
    expectAccuracy(measure('faded 25% + blur σ=1 px', 100, (img) => blur(fade(img, 0.25), 1)), 0.99);
  });

  it('reads other image sizes', () => {
    expectAccuracy(measure('clean', 20, (img) => img, 128), 1);
    expectAccuracy(measure('clean', 60, (img) => img, 48), 0.99);
  });

  it("returns each object's mask to within its one-pixel edge, and a confidence", () => {
    scenes(40, 2).forEach((s, i) => {
      const img = renderScene(s, { seed: i });
      const r = checkImage(img);
      expect(r.scene).toEqual(canonicalScene(s));
      expect(r.masks).toHaveLength(s.objects.length);
      expect(r.confidence).toBeGreaterThan(0.5);
      s.objects.forEach((o, k) => {
        const truth = img.masks[k]!;
        const got = r.objects.find((c) => c.object.position === o.position)!;
        expect(got.mask).toBe(r.masks[r.objects.indexOf(got)]);
        let outside = 0;
        let missed = 0;
        for (let p = 0; p < 64 * 64; p++) {
          const x = p % 64;
          const y = (p - x) / 64;
          let any = 0;
          let all = 1;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const v = truth[Math.min(63, Math.max(0, y + dy)) * 64 + Math.min(63, Math.max(0, x + dx))]!;
              any |= v;
              all &= v;
            }
          if (got.mask[p] && !any) outside++;
          if (all && !got.mask[p]) missed++;
        }
        expect(outside).toBe(0); // within the dilated truth
        expect(missed).toBe(0); // covers the eroded truth
        expect(got.area).toBe(got.mask.reduce((a, b) => a + b, 0));
      });
    });
    // A soft image is read with less confidence.
    const img = renderScene(parsePrompt('a small blue cross on the left on a black background'), { seed: 1 });
    expect(checkImage(blur(img, 2)).confidence).toBeLessThan(checkImage(img).confidence);
  });

  it('accepts the engine RgbImage (data), RGBA and decoded tensors', () => {
    const s = parsePrompt('a large orange diamond at the top and a small green triangle at the bottom on a white background');
    const img: RenderedScene = renderScene(s, { seed: 5 });
    expect(checkImage({ width: 64, height: 64, data: img.rgb }).scene).toEqual(s);
    const rgba = new Uint8ClampedArray(64 * 64 * 4);
    for (let p = 0; p < 4096; p++) rgba.set([...img.rgb.subarray(p * 3, p * 3 + 3), 255], p * 4);
    expect(checkImage({ width: 64, height: 64, data: rgba }).scene).toEqual(s);
    expect(checkImage(tensorToImage(sceneToTensor(s, { seed: 5 }), 64, 64)).scene).toEqual(s);
    expect(() => checkImage({ width: 64, height: 64, data: new Uint8Array(10) })).toThrow(/bytes/);
  });

  it('finds no object on a plain background and ignores specks', () => {
    const s = parsePrompt('a small red circle in the center on a gray background');
    const img = renderScene(s, { seed: 0 });
    const bare = { width: 64, height: 64, rgb: new Uint8Array(img.rgb.length) };
    for (let p = 0; p < 4096; p++) bare.rgb.set([128, 128, 128], p * 3);
    const empty = checkImage(bare);
    expect(empty.scene).toEqual({ background: 'gray', objects: [] });
    expect(empty.confidence).toBe(0);
    expect(slotAccuracy(s, empty.scene)).toMatchObject({ correct: 1, total: 5 });
    // Isolated pixels and a 3×3 blob of object colour are noise, not objects.
    const specked = { width: 64, height: 64, rgb: new Uint8Array(img.rgb) };
    for (const [x, y] of [[5, 5], [50, 9], [9, 50], [58, 58]] as const) specked.rgb.set([30, 60, 230], (y * 64 + x) * 3);
    for (let y = 50; y < 53; y++) for (let x = 40; x < 43; x++) specked.rgb.set([245, 230, 40], (y * 64 + x) * 3);
    expect(checkImage(specked).scene).toEqual(s);
  });
});
