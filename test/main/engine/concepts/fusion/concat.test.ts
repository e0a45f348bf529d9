import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  budgetPieces,
  concatPrompt,
  joinParts,
  trimToBudget,
  type BudgetPart,
} from '../../../../../src/main/engine/concepts/fusion/concat.js';
import { resolveParents } from '../../../../../src/main/engine/concepts/fusion/parents.js';
import { releaseAttentionCapture } from '../../../../../src/main/engine/attention/index.js';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { testCacheDir } from '../../models/demo/demo-cache.js';

let ms: ModelSet;
beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu', skipVaeEncoder: true });
}, 120_000);
afterAll(async () => {
  if (ms) await releaseAttentionCapture(ms);
  await ms?.release();
});

/** A part whose word masses are given by hand (by word, default 1). */
function part(parent: number, plain: string, mass: Record<string, number> = {}, locked: string[] = []): BudgetPart {
  return {
    parent,
    plain,
    pieces: budgetPieces(ms.tokenizer, plain).map((p) => ({ ...p, mass: mass[p.text] ?? 1, locked: locked.includes(p.text) })),
  };
}

const count = (t: string) => ms.tokenizer.countTokens(t);

describe('concat token budget', () => {
  it('joins with the connective and leaves text that fits untouched', () => {
    expect(joinParts(['a red fox', 'a blue boat'], 'and')).toBe('a red fox and a blue boat');
    expect(joinParts(['a red fox', 'a blue boat'], ',')).toBe('a red fox, a blue boat');
    expect(joinParts(['a red fox', 'a blue boat'], 'and', [1.5, 0.5])).toBe('(a red fox:1.5) and (a blue boat:0.5)');
    const r = trimToBudget([part(0, 'a red fox'), part(1, 'a blue boat')], { connective: 'and', count, limit: 75 });
    expect(r.dropped).toEqual([]);
    expect(r.texts).toEqual(['a red fox', 'a blue boat']);
  });

  it('drops the lowest-mass words until the joined prompt fits, and says which', () => {
    const a = 'a red fox, in a snowy forest at dawn';
    const b = 'a blue boat on a calm lake';
    const mass = { a: 0.01, in: 0.02, at: 0.03, on: 0.04, calm: 0.5 };
    const full = count(joinParts([a, b], 'and'));
    const limit = full - 3;
    const r = trimToBudget([part(0, a, mass), part(1, b, mass)], { connective: 'and', count, limit });
    expect(r.tokens).toBeLessThanOrEqual(limit);
    expect(count(joinParts(r.texts, 'and'))).toBe(r.tokens);
    // The "a"s (mass 0.01) go first, the later ones before the earlier ones.
    expect(r.dropped.map((d) => d.word)).toEqual(['a', 'a', 'a']);
    expect(r.texts).toEqual(['a red fox, in snowy forest at dawn', 'blue boat on calm lake']);
  });

  it('never drops a locked word, and says so when the locked words alone do not fit', () => {
    const r = trimToBudget([part(0, 'red fox snow', { red: 0 }, ['red']), part(1, 'blue boat', { blue: 0 })], {
      connective: 'and',
      count,
      limit: 4,
    });
    expect(r.dropped.map((d) => d.word)).toEqual(['blue', 'boat']);
    expect(r.texts).toEqual(['red fox snow', '']);
    expect(() => trimToBudget([part(0, 'red fox snow', {}, ['red', 'fox', 'snow'])], { connective: 'and', count, limit: 2 })).toThrow(
      /alone need 3 tokens, more than the 2/,
    );
  });

  it('keeps punctuation tidy when a word next to it goes', () => {
    const r = trimToBudget([part(0, 'castle, sunset, oil painting', { sunset: 0 })], {
      connective: 'and',
      count,
      limit: count('castle, oil painting'),
    });
    expect(r.texts).toEqual(['castle, oil painting']);
  });
});

describe('concatPrompt on the demo set', () => {
  const base = { seed: 1, steps: 2, scheduler: 'ddim' as const, guidance: 7.5, width: 64, height: 64 };

  it('is "A and B" when it fits (no attention measured)', async () => {
    const parents = await resolveParents(ms, [
      { kind: 'prompt', text: 'a red fox' },
      { kind: 'prompt', text: 'a blue boat' },
    ]);
    let measured = 0;
    const r = await concatPrompt(ms, parents, [0.5, 0.5], { ...base, connective: 'and', keepWords: [], onAttention: () => measured++ });
    expect(r).toMatchObject({ prompt: 'a red fox and a blue boat', dropped: [] });
    expect(measured).toBe(0);
  });

  it('fits two long prompts into 75 tokens by attention mass, keeping the keep-words', async () => {
    const words = 'red fox snow forest river boat castle dragon house garden bridge mountain lake tree flower city'.split(' ');
    const long = (k: number) => Array.from({ length: 42 }, (_, i) => words[(i * 7 + k) % words.length]).join(' ');
    const parents = await resolveParents(ms, [
      { kind: 'prompt', text: long(1) },
      { kind: 'prompt', text: long(5) },
    ]);
    let measured = 0;
    const r = await concatPrompt(ms, parents, [0.5, 0.5], {
      ...base,
      connective: 'and',
      keepWords: ['dragon'],
      onAttention: () => measured++,
    });
    expect(measured).toBe(2);
    expect(count(r.prompt)).toBeLessThanOrEqual(75);
    expect(r.tokens).toBe(count(r.prompt));
    expect(r.dropped.length).toBeGreaterThanOrEqual(42 * 2 + 1 - 75);
    expect(r.dropped.some((d) => d.word === 'dragon')).toBe(false);
    expect(r.prompt).toContain(' and ');
    // Masses are shares of the parent's attention: in [0, 1], dropped in increasing order.
    for (const d of r.dropped) expect(d.mass).toBeGreaterThanOrEqual(0);
    expect(r.dropped.every((d, i, all) => i === 0 || all[i - 1]!.mass <= d.mass + 1e-12)).toBe(true);
  });
});
