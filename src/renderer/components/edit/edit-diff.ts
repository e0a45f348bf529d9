/**
 * The Edit view's live highlighting, from the same word diff the engine uses
 * (shared/prompt-diff.ts): marks on the edited prompt in the editor (inserted, replaced and
 * reweighted words; removed words shown struck through where they were) and highlights on the
 * source prompt (removed and replaced words). Offsets are those of the prompts as written.
 */
import type { DiffWord, PromptDiff, WordEdit } from '../../../shared/prompt-diff.js';
import type { Mark } from '../../prompt/PromptEditor.js';

export type HighlightKind = 'removed' | 'replaced' | 'inserted' | 'reweighted';

export interface Highlight {
  start: number;
  end: number;
  kind: HighlightKind;
  /** Says what happened to the words (a tooltip). */
  title: string;
}

/** The written span of words [from, to), when each end maps back to the prompt as written. */
function span(words: readonly DiffWord[], from: number, to: number): { start: number; end: number } | undefined {
  const a = words[from]?.source;
  const b = words[to - 1]?.source;
  return a && b && to > from ? { start: a.start, end: b.end } : undefined;
}

const weight = (w: number): string => String(Number(w.toFixed(3)));
const real = (d: PromptDiff): WordEdit[] => d.edits.filter((e) => !e.punctuation);

/** Marks on the edited prompt for the editor (documents offsets of `diff.editedPrompt`). */
export function editMarks(diff: PromptDiff): Mark[] {
  const marks: Mark[] = [];
  for (const e of real(diff)) {
    if (e.kind === 'removal') {
      // Where the words were: after the kept word before them, else before the one after them.
      const prev = diff.edited[e.edited.from - 1]?.source;
      const next = diff.edited[e.edited.from]?.source;
      const at = prev ? prev.end : next ? next.start : 0;
      const ghost = prev ? ` ${e.source.text}` : `${e.source.text} `;
      marks.push({ start: at, end: at, kind: 'removed', ghost, message: `removed: "${e.source.text}"` });
      continue;
    }
    const s = span(diff.edited, e.edited.from, e.edited.to);
    if (!s) continue;
    if (e.kind === 'insertion') marks.push({ ...s, kind: 'inserted', message: `inserted: "${e.edited.text}"` });
    else if (e.kind === 'replacement') marks.push({ ...s, kind: 'replaced', message: `replaces "${e.source.text}"` });
    else marks.push({ ...s, kind: 'reweighted', message: `weight ${weight(e.weight!.source)} → ${weight(e.weight!.edited)}` });
  }
  return marks;
}

/** Highlights on the source prompt: the words the edit removes, replaces or reweights. */
export function sourceHighlights(diff: PromptDiff): Highlight[] {
  const out: Highlight[] = [];
  for (const e of real(diff)) {
    if (e.kind === 'insertion') continue;
    const s = span(diff.source, e.source.from, e.source.to);
    if (!s) continue;
    if (e.kind === 'removal') out.push({ ...s, kind: 'removed', title: 'removed' });
    else if (e.kind === 'replacement') out.push({ ...s, kind: 'replaced', title: `replaced by "${e.edited.text}"` });
    else out.push({ ...s, kind: 'reweighted', title: `weight ${weight(e.weight!.source)} → ${weight(e.weight!.edited)}` });
  }
  return out;
}

export interface Segment {
  text: string;
  kind?: HighlightKind;
  title?: string;
}

/** `text` cut into plain and highlighted runs (highlights in order, overlaps dropped). */
export function segments(text: string, highlights: readonly Highlight[]): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const h of [...highlights].sort((a, b) => a.start - b.start)) {
    if (h.start < at || h.end > text.length || h.end <= h.start) continue;
    if (h.start > at) out.push({ text: text.slice(at, h.start) });
    out.push({ text: text.slice(h.start, h.end), kind: h.kind, title: h.title });
    at = h.end;
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out;
}

/** Counts of the edit kinds, e.g. "1 removal, 1 replacement" (empty when nothing changed). */
export function editCounts(diff: PromptDiff): string {
  const names: Record<WordEdit['kind'], string> = {
    removal: 'removal',
    replacement: 'replacement',
    insertion: 'insertion',
    reweight: 'reweight',
  };
  const n = new Map<WordEdit['kind'], number>();
  for (const e of real(diff)) n.set(e.kind, (n.get(e.kind) ?? 0) + 1);
  return [...n].map(([k, c]) => `${c} ${names[k]}${c === 1 ? '' : 's'}`).join(', ');
}
