/**
 * PNG text chunks for the library, which embeds each item's JSON in its PNG so the index can be
 * rebuilt from the images alone. Thin adapter over the engine's PNG chunk code (image/png-chunks).
 */
import { isPng, readPngText as readTextChunks, withPngText } from '../engine/image/png-chunks.js';

export { isPng };

/** Text chunks (tEXt, iTXt, zTXt) by keyword. */
export function readPngText(png: Uint8Array): Map<string, string> {
  return new Map(Object.entries(readTextChunks(png)));
}

/** A copy of `png` with UTF-8 iTXt chunks for `entries`. */
export function addPngText(png: Uint8Array, entries: Record<string, string>): Buffer {
  if (!isPng(png)) throw new Error('not a PNG');
  return withPngText(
    png,
    Object.entries(entries).map(([key, text]) => ({ key, text, itxt: true })),
  );
}
