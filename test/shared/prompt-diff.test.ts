import { describe, expect, it } from 'vitest';
import { alignKeys, describeDiff, diffPrompts, promptDiffWords } from '../../src/shared/prompt-diff.js';

const kinds = (a: string, b: string) => diffPrompts(a, b).edits.map((e) => [e.kind, e.source.text, e.edited.text]);

describe('promptDiffWords', () => {
  it('reads words as the text encoder does: syntax removed, weights kept, offsets into the prompt as written', () => {
    const ws = promptDiffWords('a (red:1.4) fox, [snowy] forest');
    expect(ws.map((w) => w.key)).toEqual(['a', 'red', 'fox', ',', 'snowy', 'forest']);
    expect(ws.map((w) => Number(w.weight.toFixed(4)))).toEqual([1, 1.4, 1, 1, Number((1 / 1.1).toFixed(4)), 1]);
    const red = ws[1]!;
    expect('a (red:1.4) fox, [snowy] forest'.slice(red.source!.start, red.source!.end)).toBe('red');
    expect(ws[3]!.isWord).toBe(false);
  });

  it('reads text without syntax verbatim and drops comment lines', () => {
    expect(promptDiffWords('A Red  Fox').map((w) => [w.text, w.key])).toEqual([
      ['A', 'a'],
      ['Red', 'red'],
      ['Fox', 'fox'],
    ]);
    expect(promptDiffWords('// note\na fox').map((w) => w.key)).toEqual(['a', 'fox']);
  });
});

describe('alignKeys', () => {
  it('keeps the most elements, then makes the fewest change runs', () => {
    expect(alignKeys(['a', 'b', 'c'], ['a', 'c'])).toEqual([
      [0, 0],
      [2, 1],
    ]);
    // One run ("x y" -> "z") rather than two.
    expect(alignKeys(['a', 'x', 'y', 'b'], ['a', 'z', 'b'])).toEqual([
      [0, 0],
      [3, 2],
    ]);
  });

  it('keeps the earlier occurrence of repeated words', () => {
    expect(alignKeys(['a', 'cube', 'and', 'a', 'cube'], ['a', 'cube'])).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('handles empty sides', () => {
    expect(alignKeys([], ['a'])).toEqual([]);
    expect(alignKeys(['a'], [])).toEqual([]);
    expect(alignKeys([], [])).toEqual([]);
  });
});

describe('diffPrompts', () => {
  it('names a removal', () => {
    expect(kinds('a red cube on the left and a small blue square on the right', 'a red cube on the left')).toEqual([
      ['removal', 'and a small blue square on the right', ''],
    ]);
  });

  it('names a replacement at the same position, one word or several', () => {
    expect(kinds('a red cube on a gray background', 'a green cube on a gray background')).toEqual([['replacement', 'red', 'green']]);
    expect(kinds('a red cube', 'a large blue sphere')).toEqual([['replacement', 'red cube', 'large blue sphere']]);
  });

  it('names insertions at the start, in the middle and at the end', () => {
    expect(kinds('a cat', 'a photo of a cat')).toEqual([['insertion', '', 'a photo of']]);
    expect(kinds('a cat', 'a fluffy cat')).toEqual([['insertion', '', 'fluffy']]);
    expect(kinds('a cat', 'a cat in the snow')).toEqual([['insertion', '', 'in the snow']]);
  });

  it('names a reweight through prompt syntax, and groups a reweighted phrase', () => {
    const d = diffPrompts('a red fox in a forest', 'a (red fox:1.4) in a forest');
    expect(d.edits).toHaveLength(1);
    expect(d.edits[0]).toMatchObject({
      kind: 'reweight',
      source: { text: 'red fox' },
      edited: { text: 'red fox' },
      weight: { source: 1, edited: 1.4 },
    });
    expect(describeDiff(d)).toBe('reweight of "red fox" from 1 to 1.4');
    // Emphasis already in the source, removed in the edit.
    expect(diffPrompts('a [cat]', 'a cat').edits[0]).toMatchObject({ kind: 'reweight', edited: { text: 'cat' } });
  });

  it('matches words case-insensitively and ignores spacing and syntax that changes no weight', () => {
    expect(diffPrompts('a red fox', 'A  Red fox').identical).toBe(true);
    expect(diffPrompts('a red fox', 'a red fox\n// a comment').identical).toBe(true);
    expect(diffPrompts('a (red:1) fox', 'a red fox').identical).toBe(true);
  });

  it('with repeated words removes the later occurrence', () => {
    const d = diffPrompts('a blue cube and a blue cube', 'a blue cube');
    expect(d.edits).toHaveLength(1);
    expect(d.edits[0]).toMatchObject({ kind: 'removal', source: { from: 3, to: 7, text: 'and a blue cube' } });
    // Removing the first of two distinct objects that share words keeps the second's words.
    expect(kinds('a red cube and a blue cube', 'a blue cube')).toEqual([['removal', 'a red cube and', '']]);
  });

  it('flags punctuation-only changes and describes several edits', () => {
    const d = diffPrompts('a cat, a dog', 'a cat a dog');
    expect(d.edits).toEqual([expect.objectContaining({ kind: 'removal', punctuation: true })]);
    const many = diffPrompts('a red fox in a forest', 'a (fox:1.2) in a snowy forest');
    expect(describeDiff(many)).toBe('removal of "red"; reweight of "fox" from 1 to 1.2; insertion of "snowy"');
  });
});
