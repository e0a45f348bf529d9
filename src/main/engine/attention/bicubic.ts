/**
 * Bicubic resampling of single-channel maps, with the conventions of PyTorch's
 * `interpolate(mode='bicubic', align_corners=False)` that DAAM upsamples with: pixel centres
 * aligned (source x = (x' + 0.5)·in/out − 0.5), Keys' cubic convolution with a = −0.75, edge
 * pixels repeated outside the map. Separable: rows first, then columns.
 */

const A = -0.75;

/** Keys' cubic convolution weights for the 4 taps around a fractional offset t in [0, 1). */
function cubicWeights(t: number): [number, number, number, number] {
  const w = (x: number): number => {
    const ax = Math.abs(x);
    if (ax <= 1) return (A + 2) * ax ** 3 - (A + 3) * ax ** 2 + 1;
    if (ax < 2) return A * ax ** 3 - 5 * A * ax ** 2 + 8 * A * ax - 4 * A;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

/** Per output index: the 4 clamped source indices and their weights. */
function taps(inSize: number, outSize: number): { index: Int32Array; weight: Float64Array } {
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const x0 = Math.floor(x);
    const ws = cubicWeights(x - x0);
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(inSize - 1, Math.max(0, x0 - 1 + k));
      weight[o * 4 + k] = ws[k]!;
    }
  }
  return { index, weight };
}

/**
 * Resize an h×w map (row-major) to outH×outW. The result can undershoot 0 or overshoot the input's
 * range near sharp edges (clamp afterwards where that matters, as DAAM does).
 */
export function resizeBicubic(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  if (src.length !== h * w) throw new RangeError(`resizeBicubic: ${src.length} values for a ${h}x${w} map`);
  if (h === outH && w === outW) return Float32Array.from(src);
  const cols = taps(w, outW);
  const rows = taps(h, outH);
  const mid = new Float64Array(h * outW);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += cols.weight[x * 4 + k]! * src[y * w + cols.index[x * 4 + k]!]!;
      mid[y * outW + x] = s;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += rows.weight[y * 4 + k]! * mid[rows.index[y * 4 + k]! * outW + x]!;
      out[y * outW + x] = s;
    }
  }
  return out;
}
