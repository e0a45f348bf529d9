/**
 * The shapes world's caption grammar, both ways: scene -> canonical caption, and strict caption ->
 * scene.
 *
 *   prompt   := object [ "and" object ] "on a" BACKGROUND "background"
 *   object   := "a" SIZE COLOUR SHAPE PLACE
 *   PLACE    := "on the left" | "on the right" | "at the top" | "at the bottom" | "in the center"
 *
 * e.g. "a small red square on the left and a large blue circle on the right on a gray background".
 * Two objects must sit at opposite positions (left+right or top+bottom, either order).
 */
import { EngineError } from '../../../errors.js';
import {
  BACKGROUNDS,
  COLOURS,
  isBackground,
  isColour,
  isShape,
  isSize,
  OPPOSITE,
  POSITION_PHRASE,
  POSITIONS,
  SHAPES,
  SIZES,
  type Position,
  type Scene,
  type ShapeObject,
} from './vocabulary.js';

/** A caption that leaves the grammar; says where (word index, character offset) and what was expected. */
export class PromptParseError extends EngineError {
  constructor(
    readonly text: string,
    /** 0-based index of the offending word in the whitespace-split text (= word count when the text ended early). */
    readonly wordIndex: number,
    /** 0-based character offset of that word in the normalised text. */
    readonly charOffset: number,
    /** Words the grammar would have accepted there (empty when the problem is not one word). */
    readonly expected: readonly string[],
    detail: string,
  ) {
    super('INVALID_ARGUMENT', `Not a shapes-world caption: ${detail}. Captions read like "a large red circle on the left on a gray background".`);
    this.name = 'PromptParseError';
  }
}

/**
 * Throws an EngineError unless `scene` is one the grammar can say: 1 or 2 objects, two objects at
 * opposite positions, every slot a known word.
 */
export function validateScene(scene: Scene): void {
  const bad = (why: string) => new EngineError('INVALID_ARGUMENT', `Invalid shapes-world scene: ${why}.`);
  if (!isBackground(scene.background)) throw bad(`unknown background "${String(scene.background)}" (one of ${BACKGROUNDS.join(', ')})`);
  const n = scene.objects.length;
  if (n < 1 || n > 2) throw bad(`a scene has one or two objects, this one has ${n}`);
  for (const o of scene.objects) {
    if (!isShape(o.shape)) throw bad(`unknown shape "${String(o.shape)}"`);
    if (!isColour(o.colour)) throw bad(`unknown colour "${String(o.colour)}"`);
    if (!isSize(o.size)) throw bad(`unknown size "${String(o.size)}"`);
    if (!(POSITIONS as readonly string[]).includes(o.position)) throw bad(`unknown position "${String(o.position)}"`);
  }
  if (n === 2 && OPPOSITE[scene.objects[0]!.position] !== scene.objects[1]!.position)
    throw bad(`two objects must be at opposite positions (left and right, or top and bottom), not ${scene.objects[0]!.position} and ${scene.objects[1]!.position}`);
}

function objectPhrase(o: ShapeObject): string {
  return ['a', o.size, o.colour, o.shape, ...POSITION_PHRASE[o.position]].join(' ');
}

/**
 * The caption of a scene, objects in the scene's order:
 * "a large red circle on the left on a gray background". Throws EngineError on an invalid scene.
 */
export function sceneToPrompt(scene: Scene): string {
  validateScene(scene);
  return `${scene.objects.map(objectPhrase).join(' and ')} on a ${scene.background} background`;
}

/** Reading order of positions: a two-object scene's canonical form names left before right, top before bottom. */
const READING_ORDER: Readonly<Record<Position, number>> = { left: 0, top: 1, center: 2, bottom: 3, right: 4 };

/**
 * The same scene with its objects in reading order (left before right, top before bottom). Two
 * captions that differ only in the order they name the objects describe one image; they share a
 * canonical scene (and so the same held-out status).
 */
export function canonicalScene(scene: Scene): Scene {
  const objects = [...scene.objects].sort((a, b) => READING_ORDER[a.position] - READING_ORDER[b.position]);
  return { background: scene.background, objects: objects.map((o) => ({ ...o })) };
}

/** Lower case, single spaces, no surrounding space: the form captions are compared in. */
export function normalisePrompt(text: string): string {
  return text.trim().toLowerCase().split(/\s+/).filter(Boolean).join(' ');
}

/**
 * Parse a caption of the grammar into a scene (objects in the caption's order). Case and runs of
 * whitespace are forgiven; nothing else is. Throws PromptParseError (an EngineError,
 * code INVALID_ARGUMENT) naming the first word where the text leaves the grammar.
 */
export function parsePrompt(text: string): Scene {
  const norm = normalisePrompt(text);
  const words = norm === '' ? [] : norm.split(' ');
  const offsets: number[] = [];
  for (let i = 0, off = 0; i < words.length; i++) {
    offsets.push(off);
    off += words[i]!.length + 1;
  }
  let i = 0;
  const fail = (expected: readonly string[], detail?: string): never => {
    const at = i < words.length ? `word ${i + 1} "${words[i]}" (character ${offsets[i]! + 1})` : `the end of the text (after ${words.length} words)`;
    const want = expected.length === 1 ? `"${expected[0]}"` : `one of ${expected.map((w) => `"${w}"`).join(', ')}`;
    throw new PromptParseError(norm, i, i < words.length ? offsets[i]! : norm.length, expected, detail ?? `at ${at} expected ${want}`);
  };
  const take = <T extends string>(allowed: readonly T[]): T => {
    const w = words[i];
    if (w === undefined || !(allowed as readonly string[]).includes(w)) return fail(allowed);
    i++;
    return w as T;
  };
  const placeStarts = [...new Set(Object.values(POSITION_PHRASE).map((p) => p[0]))];
  const parseObject = (): ShapeObject => {
    take(['a']);
    const size = take(SIZES);
    const colour = take(COLOURS);
    const shape = take(SHAPES);
    // The three-word position phrase: match word by word so the error names the exact word.
    let candidates: Position[] = [...POSITIONS];
    for (let k = 0; k < 3; k++) {
      const allowed = [...new Set(candidates.map((p) => POSITION_PHRASE[p][k]!))];
      const w = take(k === 0 ? placeStarts : allowed);
      candidates = candidates.filter((p) => POSITION_PHRASE[p][k] === w);
    }
    return { shape, colour, size, position: candidates[0]! };
  };

  const objects = [parseObject()];
  if (words[i] === 'and') {
    i++;
    const second = parseObject();
    const first = objects[0]!;
    if (OPPOSITE[first.position] !== second.position) {
      i -= 3; // point at the second object's position phrase
      const opposite = OPPOSITE[first.position];
      fail(
        opposite ? [...POSITION_PHRASE[opposite]] : [],
        opposite
          ? `the second object must be ${POSITION_PHRASE[opposite].join(' ')} (opposite the first, ${first.position}), not ${second.position}`
          : `a two-object scene uses opposite positions (left and right, or top and bottom); the first object is in the center`,
      );
    }
    objects.push(second);
  } else if (words[i] !== 'on') {
    fail(['and', 'on']);
  }
  take(['on']);
  take(['a']);
  const background = take(BACKGROUNDS);
  take(['background']);
  if (i < words.length) fail([], `the caption should end after "background", but word ${i + 1} "${words[i]}" follows`);
  return { background, objects };
}
