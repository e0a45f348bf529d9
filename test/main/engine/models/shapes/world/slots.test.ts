/** Lenient slot reading of imperfect text, and slot accuracy against a scene. */
import { describe, expect, it } from 'vitest';
import {
  addSlotAccuracy,
  allCanonicalScenes,
  emptySlotAccuracy,
  parsePrompt,
  readSlots,
  sceneToPrompt,
  slotAccuracy,
  type Scene,
} from '../../../../../../src/main/engine/models/shapes/world/index.js';

const two = parsePrompt('a small red square on the left and a large blue circle on the right on a gray background');
const one = parsePrompt('a large red circle on the left on a gray background');

describe('readSlots', () => {
  it('reads every caption of the grammar back to its scene', () => {
    let i = 0;
    for (const s of allCanonicalScenes()) {
      if (i++ % 7 !== 0) continue; // a spread sample keeps this quick
      const text = sceneToPrompt(s);
      const back = readSlots(text);
      if (JSON.stringify(back) !== JSON.stringify({ background: s.background, objects: s.objects })) expect(back).toEqual(s);
    }
  });

  it('reads the slots an imperfect answer states, and leaves the rest undefined', () => {
    expect(readSlots('a small red square on ange top on a white background')).toEqual({
      background: 'white',
      objects: [{ size: 'small', colour: 'red', shape: 'square', position: 'top' }],
    });
    expect(readSlots('A red circle, on the LEFT; grey background.')).toEqual({ background: 'gray', objects: [{ colour: 'red', shape: 'circle', position: 'left' }] });
    expect(readSlots('circle red a the on')).toEqual({ objects: [{ shape: 'circle', colour: 'red' }] });
    expect(readSlots('')).toEqual({ objects: [] });
    expect(readSlots('the cat sat on the mat')).toEqual({ objects: [] });
    expect(readSlots('a large blue thing in the centre')).toEqual({ objects: [{ size: 'large', colour: 'blue', position: 'center' }] });
  });

  it('splits objects at "and", at a repeated slot, or at an attribute after a position', () => {
    expect(readSlots('a small red square on the left a large blue circle on the right on a gray background')).toEqual(two);
    expect(readSlots('red square and blue circle')).toEqual({ objects: [{ colour: 'red', shape: 'square' }, { colour: 'blue', shape: 'circle' }] });
    expect(readSlots('red blue circle')).toEqual({ objects: [{ colour: 'red' }, { colour: 'blue', shape: 'circle' }] });
    // The background is the colour before "background", even after another background word.
    expect(readSlots('a white square on a black background').background).toBe('black');
  });
});

describe('slotAccuracy', () => {
  it('scores an exact caption fully and counts 1 + 4 slots per object', () => {
    expect(slotAccuracy(two, two)).toEqual({
      correct: 9,
      total: 9,
      bySlot: {
        shape: { correct: 2, total: 2 },
        colour: { correct: 2, total: 2 },
        size: { correct: 2, total: 2 },
        position: { correct: 2, total: 2 },
        background: { correct: 1, total: 1 },
      },
    });
    const swapped: Scene = { background: 'gray', objects: [...two.objects].reverse() };
    expect(slotAccuracy(two, swapped).correct).toBe(9);
  });

  it('scores the issue example of a failed inversion', () => {
    const truth = parsePrompt('a small red square at the top on a white background');
    const a = slotAccuracy(truth, readSlots('a small red square on ange top on a white background'));
    expect(a).toMatchObject({ correct: 5, total: 5 });
    const b = slotAccuracy(parsePrompt('a small red square at the top on a gray background'), readSlots('a small red square on ange top on a white background'));
    expect(b).toMatchObject({ correct: 4, total: 5 });
    expect(b.bySlot.background).toEqual({ correct: 0, total: 1 });
  });

  it('counts missing and extra objects as wrong slots', () => {
    const missing = slotAccuracy(two, { background: 'gray', objects: [two.objects[0]!] });
    expect(missing).toMatchObject({ correct: 5, total: 9 });
    expect(missing.bySlot.shape).toEqual({ correct: 1, total: 2 });
    const extra = slotAccuracy(one, two);
    expect(extra).toMatchObject({ total: 9 });
    // The extra blue circle on the right is 4 wrong slots; the red square on the left (matched by
    // position to the red circle) gets colour and position right.
    expect(extra.correct).toBe(1 + 2);
    expect(slotAccuracy(one, { objects: [] })).toMatchObject({ correct: 0, total: 5 });
  });

  it('matches by position first, then by the most agreeing slots', () => {
    // Predicted object at the left: matched to the true left object although it looks like the right one.
    const p = slotAccuracy(two, { background: 'gray', objects: [{ shape: 'circle', colour: 'blue', size: 'large', position: 'left' }] });
    expect(p.correct).toBe(1 + 1); // background + position of the left object
    // Without positions, the best assignment.
    const q = slotAccuracy(two, { background: 'gray', objects: [{ shape: 'circle', colour: 'blue' }, { shape: 'square', colour: 'red' }] });
    expect(q.correct).toBe(1 + 4);
    expect(q.total).toBe(9);
  });

  it('adds up over a benchmark', () => {
    const sum = [slotAccuracy(two, two), slotAccuracy(one, { objects: [] })].reduce(addSlotAccuracy, emptySlotAccuracy());
    expect(sum.correct).toBe(9);
    expect(sum.total).toBe(14);
    expect(sum.bySlot.background).toEqual({ correct: 1, total: 2 });
    expect(sum.bySlot.position).toEqual({ correct: 2, total: 3 });
  });
});
