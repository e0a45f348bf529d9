import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkerFitness, parseFitnessSpec, textFitness } from '../../../../../src/main/engine/concepts/evolution/fitness.js';
import { parsePrompt, sceneToTensor } from '../../../../../src/main/engine/models/shapes/world/index.js';

describe('fitness', () => {
  it('parses the CLI forms', () => {
    expect(parseFitnessSpec('clip:target.png')).toEqual({ kind: 'clip', image: 'target.png' });
    expect(parseFitnessSpec('text:a red fox, at dawn')).toEqual({ kind: 'text', text: 'a red fox, at dawn' });
    expect(parseFitnessSpec('checker:a large red circle on the left on a gray background')).toMatchObject({ kind: 'checker' });
    expect(() => parseFitnessSpec('aesthetic:9')).toThrow(/clip:IMAGE, text:"TEXT" or checker:"PROMPT"/);
    expect(() => parseFitnessSpec('clip:')).toThrow();
  });

  it('the checker gives 1 to the target’s own rendering and partial credit to a near miss', async () => {
    const target = 'a small red square on the left and a large blue circle on the right on a gray background';
    const f = checkerFitness(target);
    const img = (p: string) => ({ data: sceneToTensor(parsePrompt(p), { size: 64 }), width: 64, height: 64 });
    expect(await f.score(img(target))).toBe(1);
    const near = await f.score(img('a small red square on the left and a large blue circle on the right on a white background'));
    expect(near).toBeCloseTo(8 / 9, 6);
    const one = await f.score(img('a small red square on the left on a gray background'));
    expect(one).toBeCloseTo(5 / 9, 6);
    expect(f.max).toBe(1);
    expect(() => checkerFitness('a cat on a mat')).toThrow(/Not a shapes-world caption/);
  });

  it('text fitness says how to install CLIP when it is not there', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'is-fitness-'));
    try {
      await expect(textFitness('a red fox', { cacheDir: cache })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringMatching(/models download clip-vit-l14/),
      });
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
