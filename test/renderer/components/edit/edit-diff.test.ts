import { describe, expect, it } from 'vitest';
import { editCounts, editMarks, segments, sourceHighlights } from '../../../../src/renderer/components/edit/edit-diff.js';
import { diffPrompts } from '../../../../src/shared/prompt-diff.js';

const at = (text: string, m: { start: number; end: number }) => text.slice(m.start, m.end);

describe('the Edit view highlighting', () => {
  it('a removal: a struck-through ghost where the words were in the editor, the words marked in the source', () => {
    const src = 'a red circle above a blue square';
    const edited = 'a red circle';
    const d = diffPrompts(src, edited);
    expect(editMarks(d)).toEqual([
      { start: 12, end: 12, kind: 'removed', ghost: ' above a blue square', message: 'removed: "above a blue square"' },
    ]);
    const hl = sourceHighlights(d);
    expect(hl.map((h) => [h.kind, at(src, h)])).toEqual([['removed', 'above a blue square']]);
    expect(segments(src, hl)).toEqual([{ text: 'a red circle ' }, { text: 'above a blue square', kind: 'removed', title: 'removed' }]);
    expect(editCounts(d)).toBe('1 removal');
  });

  it('a removal at the start puts the ghost before the first kept word', () => {
    const d = diffPrompts('big red ball', 'red ball');
    expect(editMarks(d)).toEqual([expect.objectContaining({ start: 0, end: 0, kind: 'removed', ghost: 'big ' })]);
  });

  it('replacements, insertions and reweights are marked on the edited prompt as written (prompt syntax kept)', () => {
    const src = 'a red cube on a table';
    const edited = 'a (green:1.2) cube on a wooden table';
    const d = diffPrompts(src, edited);
    const marks = editMarks(d);
    expect(marks.map((m) => [m.kind, at(edited, m)])).toEqual([
      ['replaced', 'green'],
      ['inserted', 'wooden'],
    ]);
    expect(marks[0]!.message).toBe('replaces "red"');
    expect(sourceHighlights(d).map((h) => [h.kind, at(src, h), h.title])).toEqual([['replaced', 'red', 'replaced by "green"']]);
    const rw = diffPrompts('a red cube', 'a red (cube:1.4)');
    expect(editMarks(rw).map((m) => [m.kind, at('a red (cube:1.4)', m), m.message])).toEqual([['reweighted', 'cube', 'weight 1 → 1.4']]);
    expect(editCounts(diffPrompts('a b c', 'x b c d'))).toBe('1 replacement, 1 insertion');
  });

  it('nothing to mark when the prompts read the same; punctuation alone names no edit', () => {
    expect(editMarks(diffPrompts('a red cube', 'a  red cube'))).toEqual([]);
    const p = diffPrompts('a red cube', 'a red cube,');
    expect(editMarks(p)).toEqual([]);
    expect(editCounts(p)).toBe('');
  });

  it('segments skip overlapping and out-of-range highlights', () => {
    expect(
      segments('abcdef', [
        { start: 1, end: 3, kind: 'removed', title: '' },
        { start: 2, end: 4, kind: 'replaced', title: '' },
        { start: 5, end: 9, kind: 'replaced', title: '' },
      ]).map((s) => s.text),
    ).toEqual(['a', 'bc', 'def']);
  });
});
