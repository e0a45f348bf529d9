/**
 * Slot-level scoring: a lenient reader for imperfect text (inversion answers, captioner output)
 * and slot accuracy against a ground-truth scene.
 *
 * The strict grammar (grammar.ts) says whether a text *is* a caption; slot scoring says how much
 * of the scene a text gets right, so "a small red square on ange top on a white background" still
 * earns credit for its size, colour, shape, position ("top") and background.
 */
import {
  isBackground,
  isColour,
  isPosition,
  isShape,
  isSize,
  type Background,
  type Colour,
  type Position,
  type Scene,
  type Shape,
  type Size,
} from './vocabulary.js';

/** An object as far as a text says it; slots it does not say are undefined. */
export interface PartialObject {
  shape?: Shape;
  colour?: Colour;
  size?: Size;
  position?: Position;
}

/** A scene as far as a text says it. A full Scene is a PartialScene. */
export interface PartialScene {
  background?: Background;
  objects: PartialObject[];
}

/** Spellings the reader accepts for grammar words (British spellings). */
const ALIASES: Readonly<Record<string, string>> = { grey: 'gray', centre: 'center' };

/**
 * Read whatever slots a text states. Words outside the vocabulary are skipped; a background colour
 * word (the last one, preferring one followed by "background") is the background; objects are
 * split at "and", at a slot the current object already has, or at an attribute (size, colour,
 * shape) after the current object's position. Never throws.
 */
export function readSlots(text: string): PartialScene {
  const words = text
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean)
    .map((w) => ALIASES[w] ?? w);
  let bgIndex = -1;
  for (let i = 0; i < words.length; i++) {
    if (!isBackground(words[i]!)) continue;
    const strong = words[i + 1] === 'background';
    const prevStrong = bgIndex >= 0 && words[bgIndex + 1] === 'background';
    if (strong || !prevStrong) bgIndex = i;
  }
  const background = bgIndex >= 0 ? (words[bgIndex] as Background) : undefined;

  const objects: PartialObject[] = [];
  let cur: PartialObject = {};
  const flush = () => {
    if (Object.keys(cur).length > 0) objects.push(cur);
    cur = {};
  };
  words.forEach((w, i) => {
    if (i === bgIndex) return;
    if (w === 'and') return flush();
    const slot = isSize(w) ? 'size' : isColour(w) ? 'colour' : isShape(w) ? 'shape' : isPosition(w) ? 'position' : undefined;
    if (!slot) return;
    if (cur[slot] !== undefined || (slot !== 'position' && cur.position !== undefined)) flush();
    (cur as Record<string, string>)[slot] = w;
  });
  flush();
  return background === undefined ? { objects } : { background, objects };
}

export const OBJECT_SLOTS = ['shape', 'colour', 'size', 'position'] as const;
export type ObjectSlot = (typeof OBJECT_SLOTS)[number];
export type SlotName = ObjectSlot | 'background';

export interface SlotCount {
  correct: number;
  total: number;
}

/** Slot accuracy of one text (or a sum over many, see addSlotAccuracy). */
export interface SlotAccuracy {
  correct: number;
  total: number;
  /** Per slot: background counts 1 per scene, each object slot 1 per (matched, missing or extra) object. */
  bySlot: Record<SlotName, SlotCount>;
}

function agreement(t: PartialObject, p: PartialObject): number {
  let n = 0;
  for (const s of OBJECT_SLOTS) if (t[s] !== undefined && t[s] === p[s]) n++;
  return n;
}

/** Best assignment of the remaining truths to predictions (all permutations; inputs have ≤ a few objects). */
function bestAssignment(truth: PartialObject[], pred: PartialObject[]): [number, number][] {
  let best: [number, number][] = [];
  let bestScore = -1;
  const used = new Array<boolean>(pred.length).fill(false);
  const pairs: [number, number][] = [];
  const go = (i: number, score: number) => {
    if (i === truth.length) {
      if (score > bestScore) {
        bestScore = score;
        best = [...pairs];
      }
      return;
    }
    go(i + 1, score); // leave truth i unmatched
    for (let j = 0; j < pred.length; j++) {
      if (used[j]) continue;
      used[j] = true;
      pairs.push([i, j]);
      // A match, even with no agreeing slot, beats leaving both unmatched: it costs 4 wrong slots, not 8.
      go(i + 1, score + agreement(truth[i]!, pred[j]!) + 0.5);
      pairs.pop();
      used[j] = false;
    }
  };
  if (truth.length <= 6 && pred.length <= 6) go(0, 0);
  else for (let i = 0; i < Math.min(truth.length, pred.length); i++) best.push([i, i]);
  return best;
}

/** An all-zero SlotAccuracy, the unit of addSlotAccuracy. */
export function emptySlotAccuracy(): SlotAccuracy {
  const z = () => ({ correct: 0, total: 0 });
  return { correct: 0, total: 0, bySlot: { shape: z(), colour: z(), size: z(), position: z(), background: z() } };
}

/** Sum of two slot accuracies (to aggregate a benchmark); returns a new object. */
export function addSlotAccuracy(a: SlotAccuracy, b: SlotAccuracy): SlotAccuracy {
  const out = emptySlotAccuracy();
  out.correct = a.correct + b.correct;
  out.total = a.total + b.total;
  for (const k of Object.keys(out.bySlot) as SlotName[]) {
    out.bySlot[k].correct = a.bySlot[k].correct + b.bySlot[k].correct;
    out.bySlot[k].total = a.bySlot[k].total + b.bySlot[k].total;
  }
  return out;
}

/**
 * How many slots of `truth` `predicted` gets right. Objects are matched by position first (a
 * predicted object at a true object's position is that object), the rest by the assignment that
 * agrees on the most slots. Every slot of a missing or an extra object counts as wrong, so
 * total = 1 + 4·max(#truth, #predicted) — and an exact caption scores correct === total.
 */
export function slotAccuracy(truth: Scene, predicted: PartialScene): SlotAccuracy {
  const acc = emptySlotAccuracy();
  const count = (slot: SlotName, ok: boolean) => {
    acc.bySlot[slot].total++;
    acc.total++;
    if (ok) {
      acc.bySlot[slot].correct++;
      acc.correct++;
    }
  };
  count('background', predicted.background !== undefined && predicted.background === truth.background);

  const pairs: [number, number][] = [];
  const freeT = new Set(truth.objects.map((_, i) => i));
  const freeP = new Set(predicted.objects.map((_, i) => i));
  truth.objects.forEach((t, i) => {
    const j = [...freeP].find((j) => predicted.objects[j]!.position === t.position);
    if (j === undefined) return;
    pairs.push([i, j]);
    freeT.delete(i);
    freeP.delete(j);
  });
  const restT = [...freeT];
  const restP = [...freeP];
  for (const [a, b] of bestAssignment(
    restT.map((i) => truth.objects[i]!),
    restP.map((j) => predicted.objects[j]!),
  )) {
    pairs.push([restT[a]!, restP[b]!]);
    freeT.delete(restT[a]!);
    freeP.delete(restP[b]!);
  }
  for (const [i, j] of pairs) {
    const t = truth.objects[i]!;
    const p = predicted.objects[j]!;
    for (const s of OBJECT_SLOTS) count(s, p[s] !== undefined && p[s] === t[s]);
  }
  for (let k = 0; k < freeT.size + freeP.size; k++) for (const s of OBJECT_SLOTS) count(s, false);
  return acc;
}
