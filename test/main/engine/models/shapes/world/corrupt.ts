/**
 * Test support: degradations of rendered images standing in for what a small VAE or diffusion
 * model does to them (soft edges, pixel noise, washed-out colours), to measure the checker's
 * robustness. Deterministic (seeded noise from the demo PRNG).
 */
import { Stream } from '../../../../../../src/main/engine/models/demo/prng.js';

export interface Img {
  width: number;
  height: number;
  rgb: Uint8Array;
}

const clampByte = (v: number) => Math.round(Math.min(255, Math.max(0, v)));

/** Separable Gaussian blur with standard deviation `sigma` pixels (edges clamped). */
export function blur(img: Img, sigma: number): Img {
  const { width: w, height: h, rgb } = img;
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  const kk = k.map((v) => v / sum);
  const tmp = new Float64Array(w * h * 3);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let a = 0;
        for (let i = -r; i <= r; i++) a += kk[i + r]! * rgb[(y * w + Math.min(w - 1, Math.max(0, x + i))) * 3 + c]!;
        tmp[(y * w + x) * 3 + c] = a;
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let a = 0;
        for (let i = -r; i <= r; i++) a += kk[i + r]! * tmp[(Math.min(h - 1, Math.max(0, y + i)) * w + x) * 3 + c]!;
        out[(y * w + x) * 3 + c] = clampByte(a);
      }
  return { width: w, height: h, rgb: out };
}

/** Additive Gaussian noise of standard deviation `sd` (0-255 units) per channel, clamped. */
export function noise(img: Img, sd: number, seed: number): Img {
  const s = new Stream(seed, 'test/noise');
  return { width: img.width, height: img.height, rgb: img.rgb.map((v) => clampByte(v + sd * s.normal())) };
}

/** Every pixel moved a fraction `t` of the way towards the top-left (background) pixel's colour. */
export function fade(img: Img, t: number): Img {
  const bg = [img.rgb[0]!, img.rgb[1]!, img.rgb[2]!];
  return { width: img.width, height: img.height, rgb: img.rgb.map((v, i) => clampByte(v * (1 - t) + bg[i % 3]! * t)) };
}
