import { describe, expect, it } from 'vitest';
import { lockedKeys, promptPieces, toggleLock } from '../../../../src/renderer/components/evolution/prompt-words.js';

describe('prompt words for locking', () => {
  it('cuts a prompt into words and the text between them, losing nothing', () => {
    const prompt = 'a Red cube, and a blue ball';
    const pieces = promptPieces(prompt);
    expect(pieces.map((p) => p.text).join('')).toBe(prompt);
    expect(pieces.filter((p) => p.kind === 'word').map((p) => p.text)).toEqual(['a', 'Red', 'cube', 'and', 'a', 'blue', 'ball']);
    expect(pieces.find((p) => p.text === 'Red')).toMatchObject({ kind: 'word', key: 'red' });
  });

  it('keeps emphasis syntax around the words', () => {
    const prompt = 'a (red:1.3) cube';
    const pieces = promptPieces(prompt);
    expect(pieces.filter((p) => p.kind === 'word').map((p) => p.text)).toEqual(['a', 'red', 'cube']);
    expect(pieces.map((p) => p.text).join('')).toBe(prompt);
  });

  it('toggles a word, matching any case, and phrases holding it', () => {
    expect(toggleLock([], 'red', 'Red')).toEqual(['Red']);
    expect(toggleLock(['Red', 'cube'], 'red', 'red')).toEqual(['cube']);
    expect(toggleLock(['blue ball'], 'ball', 'ball')).toEqual([]);
    expect([...lockedKeys(['Blue ball', 'cube'])].sort()).toEqual(['ball', 'blue', 'cube']);
  });
});
