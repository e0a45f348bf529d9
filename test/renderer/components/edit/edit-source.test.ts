import { describe, expect, it } from 'vitest';
import { imageToPng } from '../../../../src/main/engine/image/image-io.js';
import { a1111Prompt, sourceFromItem, sourceFromPng } from '../../../../src/renderer/components/edit/edit-source.js';
import type { LibraryItem } from '../../../../src/shared/ipc/library.js';

const params = {
  prompt: 'a red ball and a blue cube',
  negativePrompt: '',
  seed: 3,
  steps: 4,
  scheduler: 'ddim' as const,
  guidance: 7,
  width: 64,
  height: 64,
  model: 'demo',
};
const generation: LibraryItem = { kind: 'generation', id: 'g1', createdAt: '2025', file: 'g1.png', width: 64, height: 64, params };
const report = {
  maskArea: 0,
  outside: { pixels: 1, changed: 0, psnr: null },
  inside: { pixels: 0, changed: 0, psnr: null },
  whole: { pixels: 1, changed: 0, psnr: null },
  tolerance: 12,
};
const edit: LibraryItem = {
  ...generation,
  id: 'e1',
  file: 'e1.png',
  params: { ...params, prompt: 'a red ball' },
  editOf: 'g1',
  edit: {
    source: { ...params, kind: 'generation' },
    mode: 'blend',
    requestedMode: 'auto',
    modeReason: '',
    diff: { summary: '', edits: [] },
    crossSteps: 0.8,
    selfSteps: 0.4,
    report,
    sourceFile: 'e1-source.png',
  },
};
const inversion: LibraryItem = {
  kind: 'inversion',
  id: 'i1',
  createdAt: '2025',
  file: 'i1.png',
  width: 64,
  height: 64,
  inversion: {
    prompt: 'answer',
    initialPrompt: '',
    candidates: [
      { prompt: 'no image', score: 3 },
      { prompt: 'best shown', score: 2, file: 'i1-c1.png' },
      { prompt: 'other', score: 1, file: 'i1-c2.png' },
    ],
    loss: [],
    iterations: 1,
    seconds: 1,
    preset: 'fast',
    objective: 'latent',
    model: 'demo',
    targetFile: 'i1-target.png',
    partial: false,
  },
};

describe('edit sources: the prompt the engine edits for each image', () => {
  it('a generation, an edit and its before image', () => {
    expect(sourceFromItem(generation)).toMatchObject({
      input: { source: 'library', id: 'g1' },
      file: 'g1.png',
      prompt: params.prompt,
      kind: 'generation',
      details: 'seed 3 · 4 steps · ddim · 64×64 · demo',
    });
    expect(sourceFromItem(edit)).toMatchObject({ prompt: 'a red ball', kind: 'edit' });
    expect(sourceFromItem(edit, 'e1-source.png')).toMatchObject({
      input: { source: 'library', id: 'e1', file: 'e1-source.png' },
      prompt: params.prompt,
      kind: 'before',
    });
    expect(sourceFromItem(generation, 'x.png')).toEqual({ error: expect.stringMatching(/not an image/) });
  });

  it("an inversion's shown image by its first candidate with an image; a candidate's by its own; the target refused", () => {
    expect(sourceFromItem(inversion)).toMatchObject({ input: { source: 'library', id: 'i1' }, prompt: 'best shown', kind: 'inversion' });
    expect(sourceFromItem(inversion, 'i1-c2.png')).toMatchObject({ input: { file: 'i1-c2.png' }, prompt: 'other' });
    expect(sourceFromItem(inversion, 'i1-target.png')).toEqual({ error: expect.stringMatching(/target is the image that was inverted/) });
  });

  it('a dropped PNG: our record, else the A1111 text; none: a clear error', async () => {
    const chw = new Float32Array(3 * 64 * 64);
    const ours = await imageToPng(chw, 64, 64, {
      parameters: { prompt: 'not this one', seed: 1, steps: 2, width: 64, height: 64 },
      json: { app: 'inversion-studio', ...params, prompt: 'a green tree (at dusk:1.2)', scheduler: 'euler' },
    });
    expect(sourceFromPng(ours, 'data:image/png;base64,AA==', 'tree.png')).toMatchObject({
      input: { source: 'data', name: 'tree.png' },
      prompt: 'a green tree (at dusk:1.2)',
      kind: 'upload',
      details: 'seed 3 · 4 steps · euler · demo',
    });
    const a1111 = await imageToPng(chw, 64, 64, {
      parameters: { prompt: 'a blue lake,\nmountains', negativePrompt: 'blurry', seed: 9, steps: 20, width: 64, height: 64 },
    });
    expect(sourceFromPng(a1111, 'data:image/png;base64,AA==', 'lake.png')).toMatchObject({ prompt: 'a blue lake,\nmountains' });
    const bare = await imageToPng(chw, 64, 64);
    expect(sourceFromPng(bare, 'data:', 'x.png')).toEqual({ error: expect.stringMatching(/carries no generation parameters/) });
    expect(sourceFromPng(new Uint8Array([1, 2, 3]), 'data:', 'x.jpg')).toHaveProperty('error');
  });

  it('reads the prompt part of A1111 parameters', () => {
    expect(a1111Prompt('a cat\nNegative prompt: dog\nSteps: 20, Seed: 1, Sampler: Euler')).toBe('a cat');
    expect(a1111Prompt('a cat\nSteps: 20, Seed: 1')).toBe('a cat');
    expect(a1111Prompt('just a prompt')).toBe('just a prompt');
  });
});
