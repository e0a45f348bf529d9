import { describe, expect, it } from 'vitest';
import {
  alignTokens,
  clipWords,
  droppedRanges,
  droppedSourceRanges,
  hasPromptSyntax,
  joinDoc,
  negativeOffset,
  parseEngineText,
  parsePrompt,
  splitDoc,
  toPlain,
  withoutComments,
} from '../../src/shared/prompt-syntax.js';

describe('prompt document', () => {
  it('splits off the negative section and joins it back', () => {
    const doc = 'a castle, fog\nNegative prompt: blurry, lowres';
    expect(splitDoc(doc)).toEqual({ positive: 'a castle, fog', negative: 'blurry, lowres' });
    expect(joinDoc(splitDoc(doc))).toBe(doc);
    expect(splitDoc('a cat')).toEqual({ positive: 'a cat', negative: '' });
    expect(joinDoc({ positive: 'a cat\n', negative: '  ' })).toBe('a cat');
    expect(splitDoc('x\nnegative: y').negative).toBe('y');
  });
});

describe('parsePrompt', () => {
  it('applies A1111 emphasis weights', () => {
    const p = parsePrompt('a (red:1.5) [small] ((big)) cat');
    const w = Object.fromEntries(p.runs.map((r) => [r.text.trim(), r.weight]));
    expect(w['red']).toBeCloseTo(1.5);
    expect(w['small']).toBeCloseTo(1 / 1.1);
    expect(w['big']).toBeCloseTo(1.21);
    expect(w['a']).toBe(1);
    expect(p.plain).toBe('a red small big cat');
    expect(p.problems).toEqual([]);
  });

  it('nested explicit weight multiplies the outer emphasis', () => {
    const p = parsePrompt('((sky:1.2))');
    expect(p.runs[0]!.weight).toBeCloseTo(1.32);
  });

  it('maps plain text back to source offsets', () => {
    const src = 'a (red:1.5) cat';
    const p = parsePrompt(src);
    const i = p.plain.indexOf('red');
    expect(src.slice(p.sourceOffset[i]!, p.sourceOffset[i + 2]! + 1)).toBe('red');
    const c = p.plain.indexOf('cat');
    expect(p.sourceOffset[c]).toBe(src.indexOf('cat'));
  });

  it('handles BREAK, comments, escapes and tidies whitespace', () => {
    const p = parsePrompt('castle ,, hill\n// note to self\nBREAK oil \\(painting\\)');
    expect(p.chunks).toBe(2);
    expect(p.plain).toBe('castle, hill, oil (painting)');
    expect(p.runs.at(-1)!.chunk).toBe(1);
    expect(toPlain('  , a  cat ,  ')).toBe('a cat');
  });

  it('reports bracket problems without throwing', () => {
    expect(parsePrompt('a (cat').problems[0]!.message).toMatch(/unclosed/);
    expect(parsePrompt('a cat)').problems[0]!.message).toMatch(/unmatched/);
    expect(parsePrompt('(cat:9)').problems[0]!.message).toMatch(/outside/);
  });
});

describe('token alignment', () => {
  it('cuts words like CLIP', () => {
    expect(clipWords("It's 42 cats!!").map((w) => w.word)).toEqual(['it', "'s", '4', '2', 'cats', '!!']);
  });

  it('aligns BPE pieces to words and finds words past the limit', () => {
    const src = 'a (castle:1.2), hill';
    const p = parsePrompt(src);
    const tokens = ['a</w>', 'cast', 'le</w>', ',</w>', 'hill</w>'];
    const spans = alignTokens(p.plain, tokens);
    expect(spans.map((s) => s && p.plain.slice(s.start, s.end))).toEqual(['a', 'castle', 'castle', ',', 'hill']);
    // limit 2: "castle" is cut mid-word (its second piece is dropped), then ',' and 'hill'.
    const dropped = droppedRanges(p, spans, 2).map((r) => src.slice(r.start, r.end));
    expect(dropped).toEqual(['castle', ',', 'hill']);
  });

  it('gives up (null) when the tokenizer disagrees', () => {
    expect(alignTokens('cat', ['dog</w>'])).toEqual([null]);
  });
});

describe('droppedSourceRanges', () => {
  const src = 'one (two:1.2) three four';
  const p = parsePrompt(src);
  const slice = (r: { start: number; end: number }[]) => r.map((x) => src.slice(x.start, x.end));

  it('aligns decoded token texts (no </w>) to words', () => {
    const tokens = ['one', 'two', 'thr', 'ee', 'four'].map((text) => ({ text }));
    expect(slice(droppedSourceRanges(p, { tokens, limit: 3, truncated: true, droppedFrom: 8 }))).toEqual(['three', 'four']);
  });

  it('uses token offsets when the tokenizer gives them', () => {
    const at = (w: string) => ({ text: w, start: p.plain.indexOf(w), end: p.plain.indexOf(w) + w.length });
    const tokens = [at('one'), at('two'), at('three'), at('four')];
    expect(slice(droppedSourceRanges(p, { tokens, limit: 3, truncated: true, droppedFrom: null }))).toEqual(['four']);
  });

  it('falls back to droppedFrom when the tokens cannot be aligned', () => {
    const tokens = ['x', 'y', 'z', 'w'].map((text) => ({ text }));
    const from = p.plain.indexOf('three');
    expect(slice(droppedSourceRanges(p, { tokens, limit: 2, truncated: true, droppedFrom: from }))).toEqual(['three four']);
  });

  it('returns nothing when nothing is dropped', () => {
    expect(droppedSourceRanges(p, { tokens: [], limit: 75, truncated: false, droppedFrom: null })).toEqual([]);
  });
});

describe('parseEngineText', () => {
  it('keeps text without prompt syntax verbatim (only trimmed), with offsets into the source', () => {
    const src = '  a cat,, ,dog  ';
    const p = parseEngineText(src);
    expect(p.plain).toBe('a cat,, ,dog');
    expect(parsePrompt(src).plain).toBe('a cat,dog'); // what the counter used to count
    expect(p.sourceOffset.map((o) => src[o]).join('')).toBe(p.plain);
    expect(p.weights.every((w) => w === 1)).toBe(true);
    expect(p.problems).toEqual([]);
    expect(p.chunks).toBe(1);
    const at = (w: string) => ({ text: w, start: p.plain.indexOf(w), end: p.plain.indexOf(w) + w.length });
    const dropped = droppedSourceRanges(p, {
      tokens: [at('a'), at('cat'), at(',,'), at(','), at('dog')],
      limit: 4,
      truncated: true,
      droppedFrom: null,
    });
    expect(dropped.map((r) => src.slice(r.start, r.end))).toEqual(['dog']);
  });

  it('counts UTF-16 code units like every other offset', () => {
    const p = parseEngineText('🙂 cat');
    expect(p.sourceOffset).toHaveLength('🙂 cat'.length);
    expect(p.sourceOffset[3]).toBe(3);
  });

  it('is parsePrompt for text with prompt syntax', () => {
    for (const src of ['a (red:1.5) cat', 'one BREAK two', '// note\na cat', 'a \\(b\\)'])
      expect(parseEngineText(src)).toEqual(parsePrompt(src));
  });

  it('is empty for blank text', () => {
    expect(parseEngineText('   ')).toMatchObject({ plain: '', runs: [], sourceOffset: [] });
  });
});

describe('negativeOffset', () => {
  it('points at the first character of the negative prompt', () => {
    const doc = 'cat\nNegative prompt:   blurry';
    expect(doc.slice(negativeOffset(doc))).toBe('blurry');
    expect(negativeOffset('cat')).toBe(-1);
  });

  it("carries each run's weight onto the characters of the plain text", () => {
    const p = parsePrompt('a (red:1.5) cat BREAK [dog]');
    expect(p.plain).toBe('a red cat, dog');
    expect(p.weights).toHaveLength(p.plain.length);
    const at = (word: string) => p.weights[p.plain.indexOf(word)]!;
    expect(at('red')).toBeCloseTo(1.5);
    expect(at('cat')).toBe(1);
    expect(at('dog')).toBeCloseTo(1 / 1.1);
    expect(p.weights[p.plain.indexOf(',')]).toBe(1);
  });

  it('tells text with syntax from plain text, and drops comment lines', () => {
    expect(hasPromptSyntax('a red cat, on a sofa')).toBe(false);
    for (const s of ['a (red) cat', 'a [red] cat', 'a \\(red cat', 'a BREAK b', 'x\n  // note']) expect(hasPromptSyntax(s)).toBe(true);
    expect(withoutComments('a (red:1.2) cat\n// lighting ideas\n  oil painting')).toBe('a (red:1.2) cat\n  oil painting');
  });
});
