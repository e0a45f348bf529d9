import { describe, expect, it } from 'vitest';
import { imageSlotAccuracy, slotRatio, textSlotAccuracy } from '../../../../src/main/engine/metrics/shapes-checker.js';
import { imageToTensor, renderScene, BACKGROUND_RGB, type Scene } from '../../../../src/main/engine/models/shapes/world/index.js';

const truth: Scene = {
  background: 'gray',
  objects: [
    { shape: 'circle', colour: 'red', size: 'large', position: 'left' },
    { shape: 'square', colour: 'blue', size: 'small', position: 'right' },
  ],
};

describe('shapes-world accuracies', () => {
  it('reads slots from text: 9 slots for two objects, each wrong word costs one', () => {
    const exact = textSlotAccuracy(truth, 'a large red circle on the left and a small blue square on the right on a gray background');
    expect([exact.correct, exact.total]).toEqual([9, 9]);
    // Wrong colour of the circle, background missing: 7 of 9.
    const two = textSlotAccuracy(truth, 'a large green circle on the left and a small blue square on the right');
    expect([two.correct, two.total]).toEqual([7, 9]);
    expect(slotRatio(two)).toBeCloseTo(7 / 9, 10);
    // A word salad with no object words: only wrong slots.
    expect(textSlotAccuracy(truth, 'xq zzv').correct).toBe(0);
  });

  it('reads a rendered image back exactly (the checker on the world renderer)', () => {
    const r = renderScene(truth, { size: 64 });
    const acc = imageSlotAccuracy(truth, { data: imageToTensor(r), width: 64, height: 64 });
    expect([acc.correct, acc.total]).toEqual([9, 9]);
    // A flat gray image: background right, both objects missing -> 1 of 9.
    const gray = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => BACKGROUND_RGB.gray[Math.floor(i / 4096)]! / 127.5 - 1);
    expect(imageSlotAccuracy(truth, { data: gray, width: 64, height: 64 })).toMatchObject({ correct: 1, total: 9 });
  });
});
