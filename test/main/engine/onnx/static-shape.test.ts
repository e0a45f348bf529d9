import { describe, it, expect } from 'vitest';
import {
  broadcastShapes,
  invertPerm,
  numel,
  range,
  sameShape,
  shapeOpRange,
  sliceRange,
  swapLast2,
} from '../../../../src/main/engine/onnx/static-shape.js';
import type { Node } from '../../../../src/main/engine/onnx/ir.js';

const shapeNode = (start?: number, end?: number): Node => ({
  name: 's',
  opType: 'Shape',
  domain: '',
  inputs: ['x'],
  outputs: ['y'],
  attrs: {
    ...(start === undefined ? {} : { start: { kind: 'int', value: start } }),
    ...(end === undefined ? {} : { end: { kind: 'int', value: end } }),
  },
});

describe('static shape arithmetic', () => {
  it('broadcastShapes: right-aligned numpy broadcasting, undefined when incompatible', () => {
    expect(broadcastShapes([2, 1, 4], [3, 1], [4])).toEqual([2, 3, 4]);
    expect(broadcastShapes([], [5])).toEqual([5]);
    expect(broadcastShapes()).toEqual([]);
    expect(broadcastShapes([2, 3], [4, 3])).toBeUndefined();
  });

  it('range, swapLast2, invertPerm, numel, sameShape', () => {
    expect(range(2, 5)).toEqual([2, 3, 4]);
    expect(range(3, 1)).toEqual([]);
    expect(swapLast2(4)).toEqual([0, 1, 3, 2]);
    expect(invertPerm([2, 0, 1])).toEqual([1, 2, 0]);
    expect(numel([2, 3, 4])).toBe(24);
    expect(numel([])).toBe(1);
    expect(sameShape([1, 2], [1, 2])).toBe(true);
    expect(sameShape([1, 2], [1, 2, 1])).toBe(false);
  });

  it('sliceRange: ONNX clamping for positive and negative steps', () => {
    expect(sliceRange(10, 2, 8, 3)).toEqual({ start: 2, count: 2 });
    expect(sliceRange(10, -1, -(2 ** 63), -1)).toEqual({ start: 9, count: 10 });
    expect(sliceRange(10, 0, 2 ** 63, 1)).toEqual({ start: 0, count: 10 });
    expect(sliceRange(10, 8, 2, -2)).toEqual({ start: 8, count: 3 });
    expect(sliceRange(10, 5, 3, 1).count).toBe(0);
    expect(sliceRange(4, -100, 100, 1)).toEqual({ start: 0, count: 4 });
  });

  it("shapeOpRange: Shape's start/end count from the end and clamp to [0, rank]", () => {
    expect(shapeOpRange(shapeNode(), 4)).toEqual({ start: 0, end: 4 });
    expect(shapeOpRange(shapeNode(-2), 4)).toEqual({ start: 2, end: 4 });
    expect(shapeOpRange(shapeNode(1, -1), 4)).toEqual({ start: 1, end: 3 });
    expect(shapeOpRange(shapeNode(-10, 10), 4)).toEqual({ start: 0, end: 4 });
    expect(shapeOpRange(shapeNode(3, 1), 4)).toEqual({ start: 3, end: 3 });
  });
});
