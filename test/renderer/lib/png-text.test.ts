import { describe, expect, it } from 'vitest';
import { imageToPng } from '../../../src/main/engine/image/image-io.js';
import { addPngText } from '../../../src/main/host/png-text.js';
import { isPngBytes, readPngTextChunks } from '../../../src/renderer/lib/png-text.js';

describe('PNG text chunks in the renderer', () => {
  it('reads tEXt (Latin-1) and uncompressed iTXt (UTF-8), first occurrence winning, as the engine writes them', async () => {
    const png = await imageToPng(new Float32Array(3 * 8 * 8), 8, 8, {
      parameters: { prompt: 'a café', seed: 1, steps: 2, width: 8, height: 8 },
      json: { prompt: 'ünïcödé ✓' },
    });
    const withItem = addPngText(png, { 'inversion-studio-item': '{"id":"x"}' });
    expect(isPngBytes(withItem)).toBe(true);
    const text = readPngTextChunks(withItem);
    expect(text.get('parameters')).toMatch(/^a café\nSteps: 2/);
    expect(JSON.parse(text.get('inversion-studio')!)).toEqual({ prompt: 'ünïcödé ✓' });
    expect(text.get('inversion-studio-item')).toBe('{"id":"x"}');
  });

  it('is empty for other bytes and survives truncation', async () => {
    expect(readPngTextChunks(new Uint8Array([1, 2, 3])).size).toBe(0);
    const png = await imageToPng(new Float32Array(3 * 8 * 8), 8, 8, { parameters: { prompt: 'x', seed: 1, width: 8, height: 8 } });
    expect(() => readPngTextChunks(png.subarray(0, 40))).not.toThrow();
  });
});
