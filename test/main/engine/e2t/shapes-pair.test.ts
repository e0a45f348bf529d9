import { describe, expect, it } from 'vitest';
import { heldOutPrompts, isHeldOut, parsePrompt } from '../../../../src/main/engine/models/shapes/world/index.js';
import { measureRoundTrip, shapesCorpus, SHAPES_PAIR_CONFIG } from '../../../../src/main/engine/e2t/shapes-pair.js';
import { RandomStream } from '../../../../src/main/engine/training/index.js';
import type { EmbeddingToText } from '../../../../src/main/engine/e2t/types.js';
import { bagOfWordsEncoder } from './fake-encoders.js';

describe('the shapes world as a pair corpus', () => {
  it('samples training captions only, in the grammar, within the vocabulary and maxLength', () => {
    const corpus = shapesCorpus();
    const rng = new RandomStream(1, 'test');
    const vocab = new Set(corpus.words);
    let two = 0;
    for (let i = 0; i < 500; i++) {
      const t = corpus.sample(rng);
      const scene = parsePrompt(t);
      expect(isHeldOut(scene)).toBe(false);
      for (const w of t.split(' ')) expect(vocab.has(w)).toBe(true);
      expect(t.split(' ').length + 2).toBeLessThanOrEqual(SHAPES_PAIR_CONFIG.maxLength);
      if (scene.objects.length === 2) two++;
    }
    expect(two).toBeGreaterThan(150);
    expect(two).toBeLessThan(350);
  });

  it('corrupts one slot (two positions when a pair of objects moves), staying in the grammar and the training split', () => {
    const corpus = shapesCorpus();
    const rng = new RandomStream(2, 'test');
    for (let i = 0; i < 300; i++) {
      const t = corpus.sample(rng);
      const c = corpus.corrupt(t, rng);
      expect(c).not.toBe(t);
      const scene = parsePrompt(c);
      expect(isHeldOut(scene)).toBe(false);
      const a = parsePrompt(t);
      let diff = a.background === scene.background ? 0 : 1;
      a.objects.forEach((o, k) => {
        for (const slot of ['shape', 'colour', 'size', 'position'] as const) if (o[slot] !== scene.objects[k]![slot]) diff++;
      });
      expect(diff === 1 || (diff === 2 && scene.objects.length === 2 && scene.objects[0]!.position !== a.objects[0]!.position)).toBe(true);
    }
  });
});

describe('round-trip measurement', () => {
  it('scores exact answers and slot accuracy per decoder', async () => {
    const prompts = heldOutPrompts(6, 3);
    // A decoder that gets even prompts right and answers a fixed caption otherwise.
    let i = 0;
    const decoder: EmbeddingToText = {
      name: 'fake',
      async decode() {
        const k = i++;
        const text = k % 2 === 0 ? prompts[k]! : 'a large red circle on the left on a gray background';
        return { text, distance: 0, alternatives: [], rounds: 0, candidatesScored: 0 };
      },
    };
    const r = await measureRoundTrip(decoder, bagOfWordsEncoder(8, 24), prompts, () => ({ init: '' }));
    expect(r.rows).toHaveLength(6);
    expect(r.exact).toBe(3);
    expect(r.rows.filter((x) => x.exact).every((x) => x.slots.correct === x.slots.total)).toBe(true);
    expect(r.slots.correct).toBeLessThan(r.slots.total);
    expect(r.slots.total).toBe(r.rows.reduce((s, x) => s + x.slots.total, 0));
  });
});
