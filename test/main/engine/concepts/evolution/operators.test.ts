import { describe, expect, it } from 'vitest';
import {
  alignPhrases,
  containsWords,
  enforceLocks,
  phrasesText,
  promptCrossover,
  splitPhrases,
  wordMutation,
} from '../../../../../src/main/engine/concepts/evolution/operators.js';
import { Random } from '../../../../../src/main/engine/concepts/evolution/random.js';
import { promptDiffWords } from '../../../../../src/shared/prompt-diff.js';
import { createShapesLm, trainShapesLm } from '../../../../../src/main/engine/models/shapes/lm/index.js';
import { WORLD_VOCABULARY } from '../../../../../src/main/engine/models/shapes/world/index.js';

const phrases = (s: string) => splitPhrases(promptDiffWords(s));

describe('phrases', () => {
  it('cut at , ; | and "and", and join back', () => {
    const p = phrases('a castle on a hill, sunset and oil painting; dramatic');
    expect(p.map((x) => x.words.map((w) => w.text).join(' '))).toEqual(['a castle on a hill', 'sunset', 'oil painting', 'dramatic']);
    expect(p.map((x) => x.sep)).toEqual([',', 'and', ';', '']);
    expect(phrasesText(p)).toBe('a castle on a hill, sunset and oil painting; dramatic');
  });

  it('align by word similarity, in order', () => {
    const a = phrases('a red fox, snowy forest, oil painting');
    const b = phrases('watercolor, a red dog, a snowy forest');
    expect(alignPhrases(a, b, 0.6)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(alignPhrases(a, b, 0.95)).toEqual([]);
  });
});

describe('prompt crossover', () => {
  const A = 'a small red square on the left on a gray background';
  const B = 'a large blue circle on the right on a white background';

  it('is reproducible from its random key', () => {
    const r1 = promptCrossover(A, B, new Random(7, 'x'));
    const r2 = promptCrossover(A, B, new Random(7, 'x'));
    expect(r1).toEqual(r2);
  });

  it('unaligned phrases: children take A, B or both (in either order), never neither', () => {
    const seen = new Set<string>();
    for (let k = 0; k < 60; k++) seen.add(promptCrossover(A, B, new Random(k, 'cross')).text);
    expect(seen.has(`${A} and ${B}`)).toBe(true);
    expect(seen.has(`${B} and ${A}`)).toBe(true);
    for (const t of seen) expect(t.length).toBeGreaterThan(0);
  });

  it('aligned phrases are mixed hunk by hunk of their word diff', () => {
    const a = 'a small red square on the left on a gray background';
    const b = 'a large red square on the right on a gray background';
    const seen = new Set<string>();
    for (let k = 0; k < 40; k++) seen.add(promptCrossover(a, b, new Random(k, 'mix')).text);
    expect(seen).toContain('a large red square on the left on a gray background');
    expect(seen).toContain('a small red square on the right on a gray background');
    for (const t of seen) expect(t).toMatch(/^a (small|large) red square on the (left|right) on a gray background$/);
  });

  it('keeps locked words', () => {
    for (let k = 0; k < 40; k++) {
      const t = promptCrossover(A, B, new Random(k, 'lock'), { locks: ['circle', 'red'] }).text;
      expect(containsWords(t, 'circle') && containsWords(t, 'red')).toBe(true);
    }
  });
});

describe('word mutation', () => {
  const lm = createShapesLm(trainShapesLm({ captions: 2000 }));
  const P = 'a small red square on the left on a gray background';

  it('substitutes, inserts or deletes one word, with the LM’s next words; reproducibly', async () => {
    const kinds = new Set<string>();
    for (let k = 0; k < 40; k++) {
      const r = await wordMutation(P, new Random(k, 'mut'), { lm, dictionary: WORLD_VOCABULARY });
      kinds.add(r.detail.split(' ')[0]!);
      expect(r.text).not.toBe(P);
      const n = P.split(' ').length;
      expect(Math.abs(r.text.split(' ').length - n)).toBeLessThanOrEqual(1);
      for (const w of r.text.split(' ')) expect(WORLD_VOCABULARY).toContain(w);
    }
    expect(kinds).toEqual(new Set(['substituted', 'inserted', 'deleted']));
    expect(await wordMutation(P, new Random(3, 'mut'), { lm, dictionary: [] })).toEqual(
      await wordMutation(P, new Random(3, 'mut'), { lm, dictionary: [] }),
    );
  });

  it('the LM proposes words that fit the context (after "a small" a colour)', async () => {
    const r = await lm.nextWords('a small', 3);
    expect(r.map((x) => x.word).every((w) => ['red', 'green', 'blue', 'yellow', 'orange', 'purple', 'cyan'].includes(w))).toBe(true);
  });

  it('never touches locked words; without an LM it draws from the dictionary', async () => {
    for (let k = 0; k < 60; k++) {
      const r = await wordMutation(P, new Random(k, 'locked'), { dictionary: ['zebra', 'violet'], locks: ['red', 'square'] });
      expect(containsWords(r.text, 'red') && containsWords(r.text, 'square')).toBe(true);
      if (r.detail.startsWith('substituted') || r.detail.startsWith('inserted')) expect(r.text).toMatch(/zebra|violet/);
    }
  });
});

describe('locks', () => {
  it('restores missing locked words and phrases at the end, in order', () => {
    expect(enforceLocks('a blue boat', ['blue'])).toBe('a blue boat');
    expect(enforceLocks('a blue boat', ['red fox', 'snow'])).toBe('a blue boat, red fox, snow');
    expect(containsWords('A Red Fox, at dawn', 'red fox')).toBe(true);
    expect(containsWords('a redfox', 'red')).toBe(false);
  });
});
