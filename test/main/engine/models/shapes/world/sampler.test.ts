/** Scene sampling and the held-out split. */
import { describe, expect, it } from 'vitest';
import {
  allCanonicalScenes,
  BACKGROUNDS,
  COLOURS,
  createRng,
  heldOutCanonicalScenes,
  heldOutPrompts,
  heldOutScenes,
  isHeldOut,
  OPPOSITE,
  parsePrompt,
  POSITIONS,
  sampleHeldOut,
  sampleScene,
  sceneToPrompt,
  SHAPES,
  SIZES,
  validateScene,
  type Scene,
} from '../../../../../../src/main/engine/models/shapes/world/index.js';

const draw = (seed: number, n: number, opts?: Parameters<typeof sampleScene>[1]): Scene[] => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => sampleScene(rng, opts));
};

describe('shapes world sampler', () => {
  it('is deterministic in its seed', () => {
    expect(draw(3, 50)).toEqual(draw(3, 50));
    expect(draw(3, 50)).not.toEqual(draw(4, 50));
  });

  it('samples valid scenes covering every word, with the asked two-object fraction', () => {
    const scenes = draw(1, 2000);
    const seen = new Set<string>();
    for (const s of scenes) {
      validateScene(s);
      if (s.objects.length === 2) expect(OPPOSITE[s.objects[0]!.position]).toBe(s.objects[1]!.position);
      seen.add(s.background);
      for (const o of s.objects) [o.shape, o.colour, o.size, o.position].forEach((w) => seen.add(w));
    }
    expect([...seen].sort()).toEqual([...BACKGROUNDS, ...COLOURS, ...SHAPES, ...SIZES, ...POSITIONS].sort());
    const two = scenes.filter((s) => s.objects.length === 2).length / scenes.length;
    expect(two).toBeGreaterThan(0.45);
    expect(two).toBeLessThan(0.55);
    // Both orders of a two-object caption occur.
    expect(scenes.some((s) => s.objects[0]!.position === 'right')).toBe(true);
    expect(scenes.some((s) => s.objects[0]!.position === 'left' && s.objects.length === 2)).toBe(true);
    expect(draw(2, 200, { twoObjectFraction: 0 }).every((s) => s.objects.length === 1)).toBe(true);
    expect(draw(2, 200, { twoObjectFraction: 1 }).every((s) => s.objects.length === 2)).toBe(true);
    expect(() => draw(2, 1, { twoObjectFraction: 2 })).toThrow(/twoObjectFraction/);
  });

  it('holds out ~5% of the world, whatever the order a caption names the objects in', () => {
    let all = 0;
    let held = 0;
    for (const s of allCanonicalScenes()) {
      all++;
      if (isHeldOut(s)) held++;
      if (s.objects.length === 2) expect(isHeldOut({ background: s.background, objects: [...s.objects].reverse() })).toBe(isHeldOut(s));
    }
    expect(all).toBe(40_600);
    expect(held / all).toBeGreaterThan(0.04);
    expect(held / all).toBeLessThan(0.06);
    const { one, two } = heldOutCanonicalScenes();
    expect(one.length + two.length).toBe(held);
    expect(one.length).toBeGreaterThan(40); // benchmarks need one-object prompts too
  });

  it('never gives training a held-out scene, and gives benchmarks only those', () => {
    expect(draw(5, 3000).some(isHeldOut)).toBe(false);
    const rng = createRng(6);
    const held = Array.from({ length: 100 }, () => sampleHeldOut(rng));
    expect(held.every(isHeldOut)).toBe(true);
    const two = held.filter((s) => s.objects.length === 2).length;
    expect(two).toBeGreaterThan(30);
    expect(two).toBeLessThan(70);
    expect(draw(7, 500, { split: 'all' }).some(isHeldOut)).toBe(true);
  });

  it('lists distinct held-out benchmark prompts, deterministic in the seed', () => {
    const prompts = heldOutPrompts(200, 1);
    expect(prompts).toEqual(heldOutPrompts(200, 1));
    expect(prompts).not.toEqual(heldOutPrompts(200, 2));
    expect(new Set(prompts).size).toBe(200);
    const scenes = prompts.map(parsePrompt);
    expect(scenes.every(isHeldOut)).toBe(true);
    const one = scenes.filter((s) => s.objects.length === 1).length;
    expect(one).toBeGreaterThan(60);
    expect(one).toBeLessThanOrEqual(100);
    expect(heldOutScenes(200, 1).map(sceneToPrompt)).toEqual(prompts);
    // Two orderings of one image are one benchmark item.
    const keys = scenes.map((s) => sceneToPrompt({ background: s.background, objects: [...s.objects].sort((a, b) => a.position.localeCompare(b.position)) }));
    expect(new Set(keys).size).toBe(200);
    expect(() => heldOutPrompts(100_000, 1)).toThrow(/held-out set/);
  });
});
