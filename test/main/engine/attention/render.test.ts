import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  heatColour,
  labelColour,
  slug,
  writeSegmentation,
  type SegmentationSummary,
} from '../../../../src/main/engine/attention/render.js';
import type { Segmentation } from '../../../../src/main/engine/attention/segment.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-attention-render-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A 4x3 segmentation of two words, by hand. */
function handMade(): Segmentation {
  const W = 4;
  const H = 3;
  const heatA = Float32Array.from({ length: W * H }, (_, i) => (i % W) / (W - 1)); // left 0 -> right 1
  const heatB = Float32Array.from({ length: W * H }, (_, i) => 1 - Math.floor(i / W) / (H - 1)); // top 1 -> bottom 0
  const mask = (h: Float32Array) => Uint8Array.from(h, (v) => (v >= 0.4 ? 1 : 0));
  const labels = Uint8Array.from({ length: W * H }, (_, i) => (Math.max(heatA[i]!, heatB[i]!) < 0.4 ? 0 : heatA[i]! >= heatB[i]! ? 1 : 2));
  return {
    prompt: 'a (red:1.2) fox in the snow',
    width: W,
    height: H,
    threshold: 0.4,
    backgroundThreshold: 0.4,
    words: [
      { word: 'fox', positions: [3], tokens: ['fox</w>'], occurrences: 1, heat: heatA, mask: mask(heatA), area: 6 / 12 },
      { word: 'Snow / ice', positions: [6], tokens: ['snow</w>'], occurrences: 1, heat: heatB, mask: mask(heatB), area: 8 / 12 },
    ],
    labels,
    layers: ['down_blocks.0.attentions.0.transformer_blocks.0.attn2'],
    timesteps: [900, 500],
    source: 'noising',
  };
}

describe('writeSegmentation', () => {
  it('writes heat maps, masks with alpha, labels, overlay and a summary with relative paths', async () => {
    const dir = path.join(tmp, 'out');
    const seg = handMade();
    const image = { rgb: new Uint8Array(8 * 6 * 3).fill(100), width: 8, height: 6 }; // resized to 4x3 for the overlay
    const summary = await writeSegmentation(dir, seg, image);
    const onDisk = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as SegmentationSummary;
    expect(onDisk).toEqual(summary);
    expect(onDisk).toMatchObject({ prompt: seg.prompt, threshold: 0.4, width: 4, height: 3, source: 'noising', overlay: 'overlay.png' });
    expect(onDisk.words.map((w) => [w.word, w.tokens, w.heatmap, w.mask, w.area])).toEqual([
      ['fox', ['fox</w>'], 'heatmap-00-fox.png', 'mask-00-fox.png', 0.5],
      ['Snow / ice', ['snow</w>'], 'heatmap-01-snow_ice.png', 'mask-01-snow_ice.png', 0.666667],
    ]);
    for (const w of onDisk.words) {
      for (const f of [w.heatmap, w.mask]) expect(existsSync(path.join(dir, f))).toBe(true);
      const { data, info } = await sharp(path.join(dir, w.mask)).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([4, 3, 4]);
      const k = w.label - 1;
      const alpha = Array.from({ length: 12 }, (_, i) => data[i * 4 + 3]);
      expect(alpha).toEqual(Array.from(seg.words[k]!.mask, (m) => m * 255));
      expect([...data.subarray(0, 3)]).toEqual(seg.words[k]!.mask[0] ? w.colour : [0, 0, 0]);
    }
    const heat = await sharp(path.join(dir, 'heatmap-00-fox.png')).raw().toBuffer();
    expect([...heat.subarray(0, 3)]).toEqual(heatColour(0));
    expect([...heat.subarray(9, 12)]).toEqual(heatColour(1));
    const labels = await sharp(path.join(dir, 'labels.png')).raw().toBuffer();
    for (let i = 0; i < 12; i++) expect([...labels.subarray(i * 3, i * 3 + 3)]).toEqual(labelColour(seg.labels[i]!));
    const overlay = await sharp(path.join(dir, 'overlay.png')).raw().toBuffer({ resolveWithObject: true });
    expect([overlay.info.width, overlay.info.height]).toEqual([4, 3]);
    const bg = seg.labels.indexOf(0);
    expect([...overlay.data.subarray(bg * 3, bg * 3 + 3)]).toEqual([100, 100, 100]);
    expect(existsSync(path.join(dir, 'summary.json.tmp-' + process.pid))).toBe(false);
  });

  it('colours: heat scale from dark to light, distinct label colours, background black', () => {
    const lum = (c: number[]) => c[0]! * 0.3 + c[1]! * 0.59 + c[2]! * 0.11;
    const scale = [0, 0.25, 0.5, 0.75, 1].map((v) => lum(heatColour(v)));
    for (let i = 1; i < scale.length; i++) expect(scale[i]!).toBeGreaterThan(scale[i - 1]!);
    expect(labelColour(0)).toEqual([0, 0, 0]);
    const cols = Array.from({ length: 12 }, (_, k) => labelColour(k + 1).join(','));
    expect(new Set(cols).size).toBe(12);
    expect(slug('Crème brûlée!')).toBe('creme_brulee');
    expect(slug('???')).toBe('word');
  });
});
