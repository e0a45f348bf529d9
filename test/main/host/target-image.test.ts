import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { targetImageForLibrary } from '../../../src/main/host/target-image.js';

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 40 } } })
    .png()
    .toBuffer();

describe('targetImageForLibrary', () => {
  it('stores an upload larger than the inversion size downscaled (shorter side = that size)', async () => {
    const big = await targetImageForLibrary(await png(3000, 2000), 512);
    expect(big.downscaled).toBe(true);
    expect(big.info).toEqual({ width: 768, height: 512 });
    const meta = await sharp(big.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 768, 512]);
  });

  it('keeps smaller uploads as they are (no upscaling) and refuses what is not an image', async () => {
    const small = await targetImageForLibrary(await png(300, 200), 512);
    expect(small.downscaled).toBe(false);
    expect(small.info).toEqual({ width: 300, height: 200 });
    await expect(targetImageForLibrary(Buffer.from('not an image'), 512)).rejects.toThrow(/could not read the target image/);
  });
});
