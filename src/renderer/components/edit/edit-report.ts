/**
 * What the Edit view says about an edit's result: the report in words (changed pixels and PSNR
 * inside and outside the mask) and the mask grid decoded for its preview.
 */
import type { EditMask, EditReport, RegionChange } from '../../../shared/ipc/edit.js';

/** 0.8% below 10%, 63% above; 0% for nothing. */
export function percent(x: number): string {
  return `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;
}

/** "PSNR 41.2 dB", "identical" for an infinite PSNR. */
function psnr(r: RegionChange): string {
  return r.psnr === null ? 'identical (PSNR ∞)' : `PSNR ${r.psnr.toFixed(1)} dB`;
}

function region(r: RegionChange): string {
  return r.psnr === null && r.changed === 0 ? 'no pixel changed' : `${percent(r.changed)} of pixels changed, ${psnr(r)}`;
}

/**
 * The report as two lines: outside the mask (what should not have changed) and inside it (the
 * edit), e.g. "outside the mask (88% of the image): 0.8% of pixels changed, PSNR 41.2 dB".
 */
export function describeEditReport(r: EditReport): { outside: string; inside: string } {
  if (r.outside.pixels === 0)
    return { outside: 'the mask covers the whole image: nothing is outside it', inside: `inside the mask: ${region(r.inside)}` };
  if (r.inside.pixels === 0)
    return {
      outside: `the mask is empty; over the whole image: ${region(r.outside)}`,
      inside: 'inside the mask: nothing (no word made a mask)',
    };
  return {
    outside: `outside the mask (${percent(1 - r.maskArea)} of the image): ${region(r.outside)}`,
    inside: `inside the mask (${percent(r.maskArea)}): ${region(r.inside)}`,
  };
}

/** The mask's cells (width × height, 0/1), or an empty array when the data does not match its size. */
export function decodeMask(mask: Pick<EditMask, 'width' | 'height' | 'data'>): Uint8Array {
  let bin: string;
  try {
    bin = atob(mask.data);
  } catch {
    return new Uint8Array(0);
  }
  if (bin.length !== mask.width * mask.height) return new Uint8Array(0);
  return Uint8Array.from(bin, (c) => (c.charCodeAt(0) ? 1 : 0));
}

/** RGBA pixels of the mask preview: inside tinted, outside clear (one pixel per cell). */
export function maskPixels(
  cells: Uint8Array,
  rgba: readonly [number, number, number, number] = [255, 112, 36, 150],
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(cells.length * 4));
  cells.forEach((v, i) => {
    if (!v) return;
    out.set(rgba, i * 4);
  });
  return out;
}
