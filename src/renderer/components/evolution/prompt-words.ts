/**
 * An individual's prompt as clickable words for locking (the Evolve view): the words as the
 * engine's word diff reads them (src/shared/prompt-diff.ts, the same reading the engine's locks
 * use: whole words, any case), with the text between them kept as it is written.
 */
import { promptDiffWords } from '../../../shared/prompt-diff.js';

export type PromptPiece = { kind: 'word'; text: string; key: string } | { kind: 'text'; text: string };

/** The prompt cut into words (lockable) and the text between them. */
export function promptPieces(prompt: string): PromptPiece[] {
  const words = promptDiffWords(prompt).filter((w) => w.isWord);
  const out: PromptPiece[] = [];
  let at = 0;
  for (const w of words) {
    const src = w.source;
    if (!src || src.start < at) {
      // Prompt syntax whose plain text does not map back: show the word on its own.
      out.push({ kind: 'text', text: ' ' }, { kind: 'word', text: w.text, key: w.key });
      continue;
    }
    if (src.start > at) out.push({ kind: 'text', text: prompt.slice(at, src.start) });
    out.push({ kind: 'word', text: prompt.slice(src.start, src.end), key: w.key });
    at = src.end;
  }
  if (at < prompt.length) out.push({ kind: 'text', text: prompt.slice(at) });
  return out;
}

/** The lower-case keys of every word of `locks` (a lock may be a phrase). */
export function lockedKeys(locks: readonly string[]): Set<string> {
  return new Set(
    locks.flatMap((l) =>
      promptDiffWords(l)
        .filter((w) => w.isWord)
        .map((w) => w.key),
    ),
  );
}

/** `locks` with word `key` added (as written: `text`) or, when it is locked, removed (phrases holding it too). */
export function toggleLock(locks: readonly string[], key: string, text: string): string[] {
  const has = (l: string) => promptDiffWords(l).some((w) => w.key === key);
  return locks.some(has) ? locks.filter((l) => !has(l)) : [...locks, text];
}
