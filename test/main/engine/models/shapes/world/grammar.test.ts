/** The shapes world's vocabulary and caption grammar: scene <-> caption, strict parsing, errors. */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../../src/main/engine/errors.js';
import {
  allCanonicalScenes,
  BACKGROUND_RGB,
  COLOUR_RGB,
  normalisePrompt,
  parsePrompt,
  PromptParseError,
  sceneToPrompt,
  validateScene,
  WORLD_VOCABULARY,
  type Scene,
} from '../../../../../../src/main/engine/models/shapes/world/index.js';

const swapped = (s: Scene): Scene => ({ background: s.background, objects: [...s.objects].reverse() });

function parseError(text: string): PromptParseError {
  try {
    parsePrompt(text);
  } catch (e) {
    expect(e).toBeInstanceOf(PromptParseError);
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('INVALID_ARGUMENT');
    return e as PromptParseError;
  }
  throw new Error(`"${text}" parsed, expected an error`);
}

describe('shapes world grammar', () => {
  it('accepts exactly the issue forms', () => {
    expect(parsePrompt('a large red circle on the left on a gray background')).toEqual({
      background: 'gray',
      objects: [{ shape: 'circle', colour: 'red', size: 'large', position: 'left' }],
    });
    expect(parsePrompt('a small red square on the left and a large blue circle on the right on a gray background')).toEqual({
      background: 'gray',
      objects: [
        { shape: 'square', colour: 'red', size: 'small', position: 'left' },
        { shape: 'circle', colour: 'blue', size: 'large', position: 'right' },
      ],
    });
    expect(sceneToPrompt(parsePrompt('a small cyan cross in the center on a brown background'))).toBe('a small cyan cross in the center on a brown background');
    expect(sceneToPrompt(parsePrompt('a large yellow diamond at the bottom and a small purple triangle at the top on a black background'))).toBe(
      'a large yellow diamond at the bottom and a small purple triangle at the top on a black background',
    );
  });

  it('round-trips every scene of the world, in both object orders', () => {
    let n = 0;
    const used = new Set<string>();
    for (const scene of allCanonicalScenes()) {
      for (const s of scene.objects.length === 2 ? [scene, swapped(scene)] : [scene]) {
        const text = sceneToPrompt(s);
        const back = parsePrompt(text);
        // Cheap comparison first: toEqual on 80k scenes is slow.
        if (JSON.stringify(back) !== JSON.stringify(s)) expect(back).toEqual(s);
        for (const w of text.split(' ')) used.add(w);
        n++;
      }
    }
    expect(n).toBe(1400 + 2 * 39200);
    // WORLD_VOCABULARY is exactly the words the captions use.
    expect([...used].sort()).toEqual([...WORLD_VOCABULARY].sort());
    expect(new Set(WORLD_VOCABULARY).size).toBe(WORLD_VOCABULARY.length);
  });

  it('forgives case and whitespace only', () => {
    expect(parsePrompt('  A Large  RED circle on the left\ton a gray background ')).toEqual(parsePrompt('a large red circle on the left on a gray background'));
    expect(normalisePrompt('  A  b ')).toBe('a b');
    parseError('a large red circle on the left on a gray background.');
  });

  it('says where a text leaves the grammar and what it expected', () => {
    const grey = parseError('a large red circle on the left on a grey background');
    expect(grey.wordIndex).toBe(9);
    expect(grey.expected).toEqual(['gray', 'white', 'black', 'brown']);
    expect(grey.message).toContain('word 10 "grey"');

    const noSize = parseError('a red circle on the left on a gray background');
    expect(noSize.wordIndex).toBe(1);
    expect(noSize.expected).toEqual(['small', 'large']);
    expect(noSize.charOffset).toBe(2);

    const place = parseError('a large red circle on the top on a gray background');
    expect(place.wordIndex).toBe(6);
    expect(place.expected).toEqual(['left', 'right']);

    const early = parseError('a large red circle on the left');
    expect(early.wordIndex).toBe(7);
    expect(early.expected).toEqual(['and', 'on']);
    expect(early.message).toContain('end of the text');

    expect(parseError('').wordIndex).toBe(0);
    expect(parseError('a large red circle on the left on a gray background please').message).toContain('should end after "background"');
    expect(parseError('the large red circle on the left on a gray background').expected).toEqual(['a']);
  });

  it('rejects two objects that are not at opposite positions', () => {
    const e = parseError('a small red square on the left and a large blue circle at the top on a gray background');
    expect(e.message).toContain('opposite');
    expect(e.wordIndex).toBe(12); // "at", the start of the second object's position phrase
    expect(parseError('a small red square on the left and a large blue circle on the left on a gray background').expected).toEqual(['on', 'the', 'right']);
    expect(parseError('a small red square in the center and a large blue circle on the left on a gray background').message).toContain('center');
  });

  it('validates scenes before captioning them', () => {
    const o = { shape: 'circle', colour: 'red', size: 'small', position: 'left' } as const;
    expect(() => sceneToPrompt({ background: 'gray', objects: [] })).toThrow(/one or two objects/);
    expect(() => sceneToPrompt({ background: 'gray', objects: [o, { ...o, position: 'right' }, { ...o, position: 'top' }] })).toThrow(/one or two objects/);
    expect(() => validateScene({ background: 'gray', objects: [o, { ...o, position: 'top' }] })).toThrow(/opposite/);
    expect(() => validateScene({ background: 'pink' as 'gray', objects: [o] })).toThrow(EngineError);
    expect(() => validateScene({ background: 'gray', objects: [{ ...o, shape: 'star' as 'circle' }] })).toThrow(/star/);
  });

  it('uses a palette whose colours are far apart', () => {
    const all = [...Object.entries(COLOUR_RGB), ...Object.entries(BACKGROUND_RGB)];
    let min = Infinity;
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) min = Math.min(min, Math.hypot(...all[i]![1].map((v, c) => v - all[j]![1][c]!)));
    expect(min).toBeGreaterThanOrEqual(100);
  });
});
