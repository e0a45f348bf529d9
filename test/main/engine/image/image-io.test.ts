import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { formatA1111, parseA1111, samplerLabel } from '../../../../src/main/engine/image/a1111.js';
import {
  chwToRgbBytes,
  hwcBytesToChw,
  imageToPng,
  loadImage,
  readPngMetadata,
  toUprightPng,
} from '../../../../src/main/engine/image/image-io.js';
import {
  crc32,
  encodeChunk,
  PNG_SIGNATURE,
  readPngChunks,
  readPngText,
  withPngText,
} from '../../../../src/main/engine/image/png-chunks.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-img-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Pixel (x, y) of a CHW [-1,1] tensor as 0..255 RGB. */
function px(img: { data: Float32Array; width: number; height: number }, x: number, y: number): number[] {
  const n = img.width * img.height;
  const i = y * img.width + x;
  return [0, 1, 2].map((c) => Math.round((img.data[c * n + i]! + 1) * 127.5));
}

/** An image whose left half is red and right half blue. */
async function halves(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (x < width / 2) raw[o] = 255;
      else raw[o + 2] = 255;
    }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function expectImageError(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.catch((e) => e);
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).code).toBe('IMAGE');
  expect((err as Error).message).toMatch(re);
}

describe('loadImage', () => {
  it('decodes a PNG to CHW RGB in [-1, 1]', async () => {
    const img = await loadImage(await halves(8, 4));
    expect(img.width).toBe(8);
    expect(img.height).toBe(4);
    expect(img.data.length).toBe(3 * 8 * 4);
    expect(px(img, 0, 0)).toEqual([255, 0, 0]);
    expect(px(img, 7, 3)).toEqual([0, 0, 255]);
    expect(Math.max(...img.data)).toBeLessThanOrEqual(1);
    expect(Math.min(...img.data)).toBeGreaterThanOrEqual(-1);
    expect(img.data[0]).toBe(1);
    expect(img.data[8 * 4]).toBe(-1); // green plane of a red pixel
  });

  it('resizes with cover (crop), contain (white letterbox) and fill', async () => {
    const src = await halves(200, 100);
    const cover = await loadImage(src, { width: 64, height: 64 });
    expect([cover.width, cover.height]).toEqual([64, 64]);
    expect(px(cover, 2, 32)).toEqual([255, 0, 0]);
    expect(px(cover, 61, 32)).toEqual([0, 0, 255]);
    const contain = await loadImage(src, { width: 64, height: 64, fit: 'contain' });
    expect(px(contain, 32, 2)).toEqual([255, 255, 255]); // letterbox band
    expect(px(contain, 2, 32)).toEqual([255, 0, 0]);
    const fill = await loadImage(src, { width: 10, height: 40, fit: 'fill' });
    expect([fill.width, fill.height]).toEqual([10, 40]);
    const onlyW = await loadImage(src, { width: 50 });
    expect([onlyW.width, onlyW.height]).toEqual([50, 25]);
  });

  it('honours EXIF orientation of a JPEG', async () => {
    // Stored 40 wide x 20 tall, red left / blue right; orientation 6 = rotate 90° clockwise to display.
    const jpg = await sharp(await halves(40, 20))
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(jpg).metadata()).orientation).toBe(6);
    const file = path.join(tmp, 'rotated.jpg');
    await writeFile(file, jpg);
    const img = await loadImage(file);
    expect([img.width, img.height]).toEqual([20, 40]);
    expect([img.sourceWidth, img.sourceHeight]).toEqual([20, 40]);
    // After a clockwise turn the former left (red) half is on top.
    const top = px(img, 10, 3);
    const bottom = px(img, 10, 36);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  it('flattens alpha onto white', async () => {
    const raw = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) {
      raw[i * 4] = 0;
      raw[i * 4 + 1] = 0;
      raw[i * 4 + 2] = 0;
      raw[i * 4 + 3] = i < 8 ? 0 : 255; // top half transparent black, bottom opaque black
    }
    const png = await sharp(raw, { raw: { width: 4, height: 4, channels: 4 } })
      .png()
      .toBuffer();
    const img = await loadImage(png);
    expect(px(img, 1, 0)).toEqual([255, 255, 255]);
    expect(px(img, 1, 3)).toEqual([0, 0, 0]);
  });

  it('reads grayscale, WebP and GIF', async () => {
    const gray = await sharp(Buffer.alloc(16, 128), { raw: { width: 4, height: 4, channels: 1 } })
      .png()
      .toBuffer();
    expect(px(await loadImage(gray), 0, 0)).toEqual([128, 128, 128]);
    const webp = await sharp(await halves(16, 16))
      .webp({ lossless: true })
      .toBuffer();
    expect((await loadImage(webp)).format).toBe('webp');
    const gif = await sharp(await halves(16, 16))
      .gif()
      .toBuffer();
    expect((await loadImage(gif)).format).toBe('gif');
  });

  it('zero-byte files and buffers are IMAGE errors', async () => {
    const file = path.join(tmp, 'empty.png');
    await writeFile(file, Buffer.alloc(0));
    await expectImageError(loadImage(file), /empty \(0 bytes\)/);
    await expectImageError(loadImage(Buffer.alloc(0)), /empty/);
    await expectImageError(loadImage(path.join(tmp, 'missing.png')), /no such file/);
  });

  it('corrupt PNG and truncated JPEG are IMAGE errors', async () => {
    const png = await halves(64, 64);
    const broken = Buffer.from(png);
    // Garble the compressed pixel data (inside IDAT) without touching the header.
    const idat = readPngChunks(png).find((c) => c.type === 'IDAT')!;
    for (let i = idat.offset + 10; i < idat.offset + 8 + idat.data.length; i++) broken[i] = 0x55;
    await expectImageError(loadImage(broken), /could not be decoded|corrupt/);

    const jpg = await sharp(await halves(64, 64))
      .jpeg()
      .toBuffer();
    await expectImageError(loadImage(jpg.subarray(0, Math.floor(jpg.length / 2))), /could not be decoded|corrupt|truncated/);
  });

  it('unsupported data is an IMAGE error naming the supported formats', async () => {
    await expectImageError(loadImage(Buffer.from('this is not an image at all')), /supported format/);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    await expectImageError(loadImage(svg), /SVG; supported formats/);
  });

  it('refuses a 30000x30000 PNG from its header alone, before decoding', async () => {
    // Signature + IHDR (30000x30000, 8-bit RGB) + an empty IDAT + IEND: a few dozen bytes.
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(30000, 0);
    ihdr.writeUInt32BE(30000, 4);
    ihdr[8] = 8;
    ihdr[9] = 2;
    const png = Buffer.concat([
      PNG_SIGNATURE,
      encodeChunk('IHDR', ihdr),
      encodeChunk('IDAT', Buffer.alloc(0)),
      encodeChunk('IEND', Buffer.alloc(0)),
    ]);
    expect(png.length).toBeLessThan(100);
    await expectImageError(loadImage(png), /30000x30000 \(900 megapixels\).*refused before decoding/);
    // A lower explicit limit applies to normal images too.
    await expectImageError(loadImage(await halves(100, 100), { maxPixels: 5000 }), /above the limit/);
  });

  it('validates requested sizes', async () => {
    const err = await loadImage(await halves(4, 4), { width: 0 }).catch((e) => e);
    expect((err as EngineError).code).toBe('INVALID_ARGUMENT');
  });
});

describe('imageToPng and metadata', () => {
  const params = {
    prompt: 'a photo of a cat, sitting on a chair',
    negativePrompt: 'blurry, low quality',
    steps: 5,
    sampler: samplerLabel('lms'),
    cfgScale: 7.5,
    seed: 0,
    width: 512,
    height: 512,
    model: 'sd15',
  };

  it('round-trips pixels through PNG', async () => {
    const src = await loadImage(await halves(16, 8));
    const png = await imageToPng(src.data, 16, 8);
    const back = await loadImage(png);
    expect(Array.from(back.data)).toEqual(Array.from(src.data));
  });

  it('writes A1111 parameters and our JSON chunk ahead of the image data, and reads them back', async () => {
    const img = await loadImage(await halves(16, 8));
    const json = { version: 1, prompt: params.prompt, seed: 0, scheduler: 'lms', note: 'ünïcödé ✓' };
    const png = await imageToPng(img.data, 16, 8, { parameters: params, json });
    const chunks = readPngChunks(png).map((c) => c.type);
    expect(chunks[0]).toBe('IHDR');
    expect(chunks[chunks.length - 1]).toBe('IEND');
    const firstIdat = chunks.indexOf('IDAT');
    expect(chunks.slice(firstIdat - 2, firstIdat)).toEqual(['tEXt', 'iTXt']);
    const meta = readPngMetadata(png);
    expect(meta.parameters).toBe(
      'a photo of a cat, sitting on a chair\nNegative prompt: blurry, low quality\nSteps: 5, Sampler: LMS, CFG scale: 7.5, Seed: 0, Size: 512x512, Model: sd15',
    );
    expect(meta.json).toEqual(json);
    expect(parseA1111(meta.parameters!)).toEqual(params);
    // libvips (an independent PNG reader) sees the same text and still decodes the pixels
    const sm = await sharp(png).metadata();
    expect(sm.comments?.find((c) => c.keyword === 'parameters')?.text).toBe(meta.parameters);
    expect(Array.from((await loadImage(png)).data)).toEqual(Array.from(img.data));
  });

  it('is deterministic: same input, same bytes', async () => {
    const img = await loadImage(await halves(32, 32));
    const a = await imageToPng(img.data, 32, 32, { parameters: params, json: { a: 1 } });
    const b = await imageToPng(img.data, 32, 32, { parameters: params, json: { a: 1 } });
    expect(a.equals(b)).toBe(true);
  });

  it('uses iTXt for parameters that Latin-1 cannot hold', async () => {
    const png = await imageToPng(new Float32Array(3 * 4), 2, 2, { parameters: { prompt: '一只猫 🐱', steps: 20, seed: 1, cfgScale: 7 } });
    expect(readPngChunks(png).some((c) => c.type === 'iTXt')).toBe(true);
    expect(parseA1111(readPngMetadata(png).parameters!).prompt).toBe('一只猫 🐱');
  });

  it('rewriting metadata replaces the old chunks instead of duplicating them', async () => {
    const png = await imageToPng(new Float32Array(12), 2, 2, { parameters: 'old' });
    const again = withPngText(png, [{ key: 'parameters', text: 'new' }]);
    expect(readPngChunks(again).filter((c) => c.type === 'tEXt')).toHaveLength(1);
    expect(readPngText(again).parameters).toBe('new');
  });

  it('clamps out-of-range values and checks the tensor length', async () => {
    expect(Array.from(chwToRgbBytes(new Float32Array([-5, 5, NaN]), 1, 1))).toEqual([0, 255, 0]);
    expect(Array.from(hwcBytesToChw(Buffer.from([0, 255, 128]), 1, 1))).toEqual([-1, 1, Math.fround(128 / 127.5 - 1)]);
    await expect(imageToPng(new Float32Array(5), 2, 2)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
  });

  it('readPngMetadata rejects non-PNG and corrupt chunk CRCs', () => {
    expect(() => readPngMetadata(Buffer.from('GIF89a'))).toThrow(/not a PNG/);
    const png = Buffer.concat([PNG_SIGNATURE, encodeChunk('tEXt', Buffer.from('parameters\0x')), encodeChunk('IEND', Buffer.alloc(0))]);
    png[8 + 8 + 3] = png[8 + 8 + 3]! ^ 1;
    expect(() => readPngMetadata(png)).toThrow(/CRC mismatch/);
  });

  it('reads zTXt and compressed iTXt written by other tools', async () => {
    const { deflateSync } = await import('node:zlib');
    const ztxt = encodeChunk(
      'zTXt',
      Buffer.concat([
        Buffer.from('parameters\0\0'),
        deflateSync(Buffer.from('a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768')),
      ]),
    );
    const itxt = encodeChunk('iTXt', Buffer.concat([Buffer.from('inversion-studio\0\x01\x00\0\0'), deflateSync(Buffer.from('{"x":1}'))]));
    const png = Buffer.concat([PNG_SIGNATURE, ztxt, itxt, encodeChunk('IEND', Buffer.alloc(0))]);
    const meta = readPngMetadata(png);
    expect(parseA1111(meta.parameters!)).toEqual({
      prompt: 'a cat',
      steps: 20,
      sampler: 'Euler a',
      cfgScale: 7,
      seed: 42,
      width: 512,
      height: 768,
    });
    expect(meta.json).toEqual({ x: 1 });
  });

  it('crc32 matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('A1111 text', () => {
  it('quotes values with commas or colons and parses them back', () => {
    const p = {
      prompt: 'x',
      steps: 5,
      seed: 7,
      cfgScale: 7.5,
      model: 'my, model: v2',
      extra: { 'Inversion loss': 0.0125, Note: 'a "quoted" word' },
    };
    const text = formatA1111(p);
    expect(text).toBe('x\nSteps: 5, CFG scale: 7.5, Seed: 7, Model: "my, model: v2", Inversion loss: 0.0125, Note: "a \\"quoted\\" word"');
    expect(parseA1111(text)).toEqual({
      prompt: 'x',
      steps: 5,
      seed: 7,
      cfgScale: 7.5,
      model: 'my, model: v2',
      extra: { 'Inversion loss': '0.0125', Note: 'a "quoted" word' },
    });
  });

  it('keeps multi-line prompts and negatives', () => {
    const text = 'line one\nline two\nNegative prompt: bad\nworse\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 64x64';
    expect(parseA1111(text)).toMatchObject({ prompt: 'line one\nline two', negativePrompt: 'bad\nworse', steps: 20, sampler: 'DDIM' });
  });

  it('a prompt without a settings line is all prompt (a colon in it does not fool the parser)', () => {
    expect(parseA1111('portrait: a woman, oil')).toEqual({ prompt: 'portrait: a woman, oil' });
    expect(parseA1111('two\nlines: here')).toEqual({ prompt: 'two\nlines: here' });
  });
});

describe('toUprightPng (the library copy of an inversion target)', () => {
  const solid = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 40 } } })
      .jpeg()
      .toBuffer();

  it('re-encodes as PNG and scales an image larger than maxShortSide down (shorter side = that size)', async () => {
    const big = await toUprightPng(await solid(3000, 2000), { maxShortSide: 512 });
    expect([big.width, big.height, big.downscaled]).toEqual([768, 512, true]);
    const meta = await sharp(big.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 768, 512]);
  });

  it('never upscales, keeps the size without maxShortSide, and applies EXIF orientation', async () => {
    expect(await toUprightPng(await solid(300, 200), { maxShortSide: 512 })).toMatchObject({ width: 300, height: 200, downscaled: false });
    expect(await toUprightPng(await solid(3000, 2000))).toMatchObject({ width: 3000, height: 2000, downscaled: false });
    // Orientation 6 (rotate 90°): a 40x20 JPEG shows as 20x40; the shorter side is then the width.
    const rotated = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#123456' } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    expect(await toUprightPng(rotated, { maxShortSide: 10 })).toMatchObject({ width: 10, height: 20, downscaled: true });
  });

  it('refuses what is not an image', async () => {
    await expect(toUprightPng(Buffer.from('not an image'), { maxShortSide: 512 })).rejects.toThrow(/could not read the target image/);
  });
});
