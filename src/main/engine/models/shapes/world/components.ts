/** Pixel-mask tools for the checker: speckle cleaning and connected components. */

/**
 * Remove foreground pixels with ≤ 2 foreground neighbours (speckle, but not a square's corner,
 * which has 3) and fill background pixels with ≥ 6 (pinholes). One pass, from a copy.
 */
export function cleanIsolated(fg: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(fg);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let n = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          if (dx === 0 && dy === 0) continue;
          const xx = x + dx;
          const yy = y + dy;
          if (xx >= 0 && xx < w && yy >= 0 && yy < h) n += fg[yy * w + xx]!;
        }
      const p = y * w + x;
      if (fg[p] && n <= 2) out[p] = 0;
      else if (!fg[p] && n >= 6) out[p] = 1;
    }
  return out;
}

/** 8-connected components of a binary mask, as lists of pixel indices. */
export function components(mask: Uint8Array, w: number, h: number): number[][] {
  const seen = new Uint8Array(w * h);
  const out: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || seen[start]) continue;
    const comp: number[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      comp.push(p);
      const x = p % w;
      const y = (p - x) / w;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
          const q = yy * w + xx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        }
    }
    out.push(comp);
  }
  return out;
}

