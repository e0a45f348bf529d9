/**
 * Shape fitting for the checker: the least-squares fit of each shape's rendered template to the
 * coverage read off an image, and the half-coverage mask of an object. Both read "coverage" α as
 * a pixel's position on the segment from the background colour to the object's colour.
 */
import { insideShape } from './geometry.js';
import { SHAPES, type Rgb, type Shape } from './vocabulary.js';

/** Inclusive pixel bounds. */
export interface PixelBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Template blur levels (σ in pixels at 64 px, scaled with the image), sharp to a small VAE's
 * softness: the coarse grid is tried first, then the best one's neighbours SIGMA_STEP / 2 away.
 */
const TEMPLATE_SIGMAS = [0, 1, 2, 3];
const SIGMA_STEP = 1;
/**
 * Plateaus tried, as fractions of the way from the interior's measured plateau to 1: a heavily
 * blurred small object never reaches its colour even at its centre, so the interior mean
 * underestimates the plateau (and so overestimates the area Σα/plateau).
 */
const PLATEAU_STEPS = [0, 0.5, 1];

/** Area of each shape as a fraction of its box, and its centroid's v in the shape frame (grid estimate, once). */
const SHAPE_MOMENTS: Readonly<Record<Shape, { fill: number; centroidV: number }>> = (() => {
  const n = 200;
  const out = {} as Record<Shape, { fill: number; centroidV: number }>;
  for (const shape of SHAPES) {
    let count = 0;
    let sumV = 0;
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const v = ((y + 0.5) / n) * 2 - 1;
        if (insideShape(shape, ((x + 0.5) / n) * 2 - 1, v)) {
          count++;
          sumV += v;
        }
      }
    out[shape] = { fill: count / (n * n), centroidV: sumV / count };
  }
  return out;
})();

function gaussianKernel(sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  return k.map((v) => v / sum);
}

/**
 * Separable Gaussian blur of a w×h float map (edges clamped) that is zero outside the inclusive
 * bounds `nz` (x0, y0, x1, y1): only outputs the kernel can reach from there are computed.
 */
function blurMap(src: Float64Array, w: number, h: number, sigma: number, nz: readonly [number, number, number, number]): Float64Array {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float64Array(w * h);
  const out = new Float64Array(w * h);
  const xa = Math.max(0, nz[0] - r);
  const xb = Math.min(w - 1, nz[2] + r);
  for (let y = nz[1]; y <= nz[3]; y++)
    for (let x = xa; x <= xb; x++) {
      let a = 0;
      for (let i = -r; i <= r; i++) a += k[i + r]! * src[y * w + Math.min(w - 1, Math.max(0, x + i))]!;
      tmp[y * w + x] = a;
    }
  const ya = Math.max(0, nz[1] - r);
  const yb = Math.min(h - 1, nz[3] + r);
  for (let y = ya; y <= yb; y++)
    for (let x = xa; x <= xb; x++) {
      let a = 0;
      for (let i = -r; i <= r; i++) a += k[i + r]! * tmp[Math.min(h - 1, Math.max(0, y + i)) * w + x]!;
      out[y * w + x] = a;
    }
  return out;
}

/** What shape fitting needs to know about the image. */
export interface FitContext {
  rgb: Uint8Array;
  w: number;
  h: number;
  bg: Rgb;
  /** Component index of each pixel (−1: background or dropped). */
  labels: Int32Array;
}

/** One shape's best template fit: R², and the template box (centre and side, pixels). */
export interface ShapeFit {
  r2: number;
  cx: number;
  cy: number;
  side: number;
}

/**
 * How well each shape explains the component: a least-squares fit of the rendering model to the
 * image. Around the component, each pixel's coverage α is read off the image as its position on
 * the segment from the background colour to the object's colour (not clamped, so noise stays
 * zero-mean). Coverage moments do not change with blur: Σα/plateau is the shape's area and the
 * α-centroid its centroid, so they place each shape's template (side from the shape's fill
 * fraction, centre from its centroid offset). The template is the shape's anti-aliased coverage,
 * blurred by σ and scaled by the plateau; the best σ and plateau are kept per shape. Because α
 * keeps the edge profile, the fit pins the blur too: a blurred diamond is not taken for a cross
 * blurred more (whose inner corners fill in), as a thresholded IoU would take it.
 */
export function fitShapes(ctx: FitContext, label: number, box: PixelBox, colour: Rgb, plateau: number): Record<Shape, ShapeFit> {
  const { rgb, w, h, bg, labels } = ctx;
  const unit = Math.min(w, h) / 64;
  const margin = Math.ceil(3 * Math.max(...TEMPLATE_SIGMAS) * unit) + 2;
  const rx0 = Math.max(0, box.x0 - margin);
  const ry0 = Math.max(0, box.y0 - margin);
  const rw = Math.min(w - 1, box.x1 + margin) - rx0 + 1;
  const rh = Math.min(h - 1, box.y1 + margin) - ry0 + 1;
  const dir = [colour[0] - bg[0], colour[1] - bg[1], colour[2] - bg[2]] as const;
  const norm2 = Math.max(1, dir[0] ** 2 + dir[1] ** 2 + dir[2] ** 2);
  // Pixels of (or next to) another object say nothing about this one: weight 0.
  const guard = Math.max(1, Math.round(2 * unit));
  const alpha = new Float64Array(rw * rh);
  const weight = new Uint8Array(rw * rh);
  let sumA = 0;
  let mx = 0;
  let my = 0;
  let n = 0;
  for (let y = 0; y < rh; y++)
    for (let x = 0; x < rw; x++) {
      const gx = x + rx0;
      const gy = y + ry0;
      let other = false;
      for (let dy = -guard; dy <= guard && !other; dy++)
        for (let dx = -guard; dx <= guard; dx++) {
          const xx = gx + dx;
          const yy = gy + dy;
          if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
          const l = labels[yy * w + xx]!;
          if (l >= 0 && l !== label) {
            other = true;
            break;
          }
        }
      if (other) continue;
      const i = (gy * w + gx) * 3;
      const a = ((rgb[i]! - bg[0]) * dir[0] + (rgb[i + 1]! - bg[1]) * dir[1] + (rgb[i + 2]! - bg[2]) * dir[2]) / norm2;
      alpha[y * rw + x] = a;
      weight[y * rw + x] = 1;
    }
  // The region's outer ring (beyond the reach of any blur tried) is background: its mean α is the
  // offset that clipped noise (a white background cannot get brighter) or a slightly-off
  // background colour adds to every pixel, which would otherwise sum into the area. Where the
  // region is cut by the image edge there is no ring on that side.
  const reach = margin - 2;
  let ring = 0;
  let ringN = 0;
  for (let y = 0; y < rh; y++)
    for (let x = 0; x < rw; x++)
      if (weight[y * rw + x] && (x + rx0 < box.x0 - reach || x + rx0 > box.x1 + reach || y + ry0 < box.y0 - reach || y + ry0 > box.y1 + reach)) {
        ring += alpha[y * rw + x]!;
        ringN++;
      }
  const offset = ringN > 0 ? ring / ringN : 0;
  for (let y = 0; y < rh; y++)
    for (let x = 0; x < rw; x++) {
      if (!weight[y * rw + x]) continue;
      const a = (alpha[y * rw + x]! -= offset);
      sumA += a;
      mx += a * (x + 0.5);
      my += a * (y + 0.5);
      n++;
    }
  const mass = Math.max(1, sumA);
  mx /= mass;
  my /= mass;
  const meanA = n > 0 ? sumA / n : 0;
  let sst = 0;
  for (let p = 0; p < rw * rh; p++) if (weight[p]) sst += (alpha[p]! - meanA) ** 2;

  const ss = 3;
  const out = {} as Record<Shape, ShapeFit>;
  for (const shape of SHAPES) {
    const { fill, centroidV } = SHAPE_MOMENTS[shape];
    let best: ShapeFit = { r2: -Infinity, cx: 0, cy: 0, side: 0 };
    for (const beta of [...new Set(PLATEAU_STEPS.map((t) => plateau + t * (1 - plateau)))]) {
      const half = Math.sqrt(mass / beta / fill) / 2;
      const cx = mx;
      const cy = my - centroidV * half;
      const cover = new Float64Array(rw * rh);
      // Template bounds in the region (the coverage is zero outside).
      const nz = [
        Math.max(0, Math.floor(cx - half) - 1),
        Math.max(0, Math.floor(cy - half) - 1),
        Math.min(rw - 1, Math.ceil(cx + half) + 1),
        Math.min(rh - 1, Math.ceil(cy + half) + 1),
      ] as const;
      for (let y = nz[1]; y <= nz[3]; y++)
        for (let x = nz[0]; x <= nz[2]; x++) {
          let hits = 0;
          for (let sy = 0; sy < ss; sy++)
            for (let sx = 0; sx < ss; sx++) if (insideShape(shape, (x + (sx + 0.5) / ss - cx) / half, (y + (sy + 0.5) / ss - cy) / half)) hits++;
          cover[y * rw + x] = (beta * hits) / (ss * ss);
        }
      const r2At = (sigma: number) => {
        const t = sigma > 0 ? blurMap(cover, rw, rh, sigma * unit, nz) : cover;
        let sse = 0;
        for (let p = 0; p < rw * rh; p++) if (weight[p]) sse += (alpha[p]! - t[p]!) ** 2;
        return sst > 0 ? 1 - sse / sst : 0;
      };
      let bestSigma = 0;
      let bestR2 = -Infinity;
      const tryAt = (sigma: number) => {
        const r2 = r2At(sigma);
        if (r2 > bestR2) [bestR2, bestSigma] = [r2, sigma];
      };
      TEMPLATE_SIGMAS.forEach(tryAt);
      const coarse = bestSigma;
      for (const sigma of [coarse - SIGMA_STEP / 2, coarse + SIGMA_STEP / 2]) if (sigma > 0 && sigma < TEMPLATE_SIGMAS.at(-1)!) tryAt(sigma);
      if (bestR2 > best.r2) best = { r2: bestR2, cx: cx + rx0, cy: cy + ry0, side: 2 * half };
    }
    out[shape] = best;
  }
  return out;
}

/**
 * The object's mask at half coverage: the pixels of the component or next to it whose α (the
 * position between the background and the object's colour, relative to its plateau) is ≥ 1/2.
 * The foreground test alone draws the line lower for some colour pairs (a 40% yellow on black is
 * nearer green than black), which would make masks a pixel fat.
 */
export function coverageMask(comp: number[], label: number, ctx: FitContext, colour: Rgb, plateau: number): { mask: Uint8Array; area: number } {
  const { rgb, w, h, bg, labels } = ctx;
  const dir = [colour[0] - bg[0], colour[1] - bg[1], colour[2] - bg[2]] as const;
  const norm2 = Math.max(1, dir[0] ** 2 + dir[1] ** 2 + dir[2] ** 2);
  const mask = new Uint8Array(w * h);
  const seen = new Uint8Array(w * h);
  let area = 0;
  for (const p of comp) {
    const x = p % w;
    const y = (p - x) / w;
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        const yy = y + dy;
        if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
        const q = yy * w + xx;
        if (seen[q]) continue;
        seen[q] = 1;
        const l = labels[q]!;
        if (l >= 0 && l !== label) continue;
        const a = ((rgb[q * 3]! - bg[0]) * dir[0] + (rgb[q * 3 + 1]! - bg[1]) * dir[1] + (rgb[q * 3 + 2]! - bg[2]) * dir[2]) / norm2;
        if (a >= plateau / 2) {
          mask[q] = 1;
          area++;
        }
      }
  }
  return { mask, area };
}

