import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { toInt64, typedArrayOf } from '../../../../src/main/engine/onnx/typed-array.js';

describe('typed arrays of ONNX element types', () => {
  it('toInt64 saturates (2**63 must not wrap) and maps NaN to 0', () => {
    expect(toInt64(2 ** 63)).toBe((1n << 63n) - 1n);
    expect(toInt64(-Infinity)).toBe(-(1n << 63n));
    expect(toInt64(NaN)).toBe(0n);
    expect(toInt64(-2.7)).toBe(-2n);
    expect(toInt64(5n)).toBe(5n);
  });

  it('typedArrayOf: the storage array per dtype (fp16 as half bits), undefined for others', () => {
    expect(typedArrayOf(DataType.FLOAT, [1.5])).toEqual(Float32Array.of(1.5));
    expect(typedArrayOf(DataType.FLOAT16, [1, -2])).toEqual(Uint16Array.of(0x3c00, 0xc000));
    expect(typedArrayOf(DataType.BOOL, [0, 1])).toEqual(Uint8Array.of(0, 1));
    expect(typedArrayOf(DataType.UINT64, [-1])).toEqual(BigUint64Array.of((1n << 64n) - 1n));
    expect(typedArrayOf(DataType.STRING, [1])).toBeUndefined();
  });
});
