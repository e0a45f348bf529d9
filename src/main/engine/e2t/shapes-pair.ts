/**
 * The shapes world's E2T pair: the world's captions as the training corpus (training split only:
 * a held-out scene is never a target nor a corrupted hypothesis), the training recipe, and the
 * round trip the pair is measured by (from c = T(P*) of held-out prompts: exact recovery and slot
 * accuracy, for any decoder).
 */
import type { RandomStream } from '../training/index.js';
import {
  isHeldOut,
  parsePrompt,
  readSlots,
  sampleScene,
  sceneToPrompt,
  slotAccuracy,
  addSlotAccuracy,
  emptySlotAccuracy,
  normalisePrompt,
  type SlotAccuracy,
} from '../models/shapes/world/index.js';
import {
  BACKGROUNDS,
  COLOURS,
  OPPOSITE,
  POSITIONS,
  SHAPES,
  SIZES,
  WORLD_VOCABULARY,
  type Scene,
} from '../models/shapes/world/vocabulary.js';
import type { PairCorpus, PairTrainConfig } from './train-pair.js';
import type { DecodeOptions, EmbeddingToText } from './types.js';
import type { TextEncoderLike } from './vec2text.js';

function pick<T>(rng: RandomStream, items: readonly T[], not?: T): T {
  const pool = not === undefined ? items : items.filter((x) => x !== not);
  return pool[rng.int(pool.length)]!;
}

/** One slot of the scene changed (object attribute, position pair or background); a valid scene. */
function corruptScene(scene: Scene, rng: RandomStream): Scene {
  const s: Scene = { background: scene.background, objects: scene.objects.map((o) => ({ ...o })) };
  const which = rng.int(1 + 4 * s.objects.length);
  if (which === 0) {
    s.background = pick(rng, BACKGROUNDS, s.background);
    return s;
  }
  const o = s.objects[Math.floor((which - 1) / 4)]!;
  switch ((which - 1) % 4) {
    case 0:
      o.shape = pick(rng, SHAPES, o.shape);
      break;
    case 1:
      o.colour = pick(rng, COLOURS, o.colour);
      break;
    case 2:
      o.size = pick(rng, SIZES, o.size);
      break;
    default:
      if (s.objects.length === 1) {
        o.position = pick(rng, POSITIONS, o.position);
      } else {
        // Two objects sit at opposite positions: move both (left/right <-> top/bottom, or mirror).
        const [a, b] = s.objects as [Scene['objects'][0], Scene['objects'][0]];
        const choices = (['left', 'top', 'right', 'bottom'] as const).filter((p) => p !== a.position);
        a.position = pick(rng, choices);
        b.position = OPPOSITE[a.position]!;
      }
  }
  return s;
}

/** The world's captions (training split) as a pair corpus over the world's vocabulary. */
export function shapesCorpus(opts: { twoObjectFraction?: number } = {}): PairCorpus {
  return {
    words: [...WORLD_VOCABULARY],
    sample: (rng) =>
      sceneToPrompt(
        sampleScene(rng, {
          split: 'train',
          ...(opts.twoObjectFraction !== undefined ? { twoObjectFraction: opts.twoObjectFraction } : {}),
        }),
      ),
    corrupt: (text, rng) => {
      const scene = parsePrompt(text);
      for (let tries = 0; tries < 50; tries++) {
        const c = corruptScene(scene, rng);
        if (!isHeldOut(c)) return sceneToPrompt(c);
      }
      return sceneToPrompt(sampleScene(rng, { split: 'train' }));
    },
  };
}

/**
 * The committed pair's recipe: a small T5 (2 + 2 layers, width 128) reading the world text
 * encoder's EOS vector (its pooled output, as the EDITOR pair reads CLIP's), 8 pseudo-tokens.
 */
export const SHAPES_PAIR_CONFIG: PairTrainConfig = {
  architecture: {
    dModel: 128,
    numHeads: 4,
    dKv: 32,
    dFf: 512,
    numLayers: 2,
    numDecoderLayers: 2,
    numRepeatTokens: 8,
    numBuckets: 16,
    maxDistance: 32,
    tieWordEmbeddings: false,
  },
  embedder: { dim: 128, read: 'eos', description: 'shapes world text encoder (CLIP-style, width 128), EOS row of last_hidden_state' },
  // The longest caption is 20 words: start + 20 + EOS.
  maxLength: 24,
  batch: 64,
  inverter: { steps: 4000, lr: 1e-3, warmup: 200 },
  corrector: { steps: 2000, lr: 7e-4, warmup: 100 },
  hypothesisMix: { inverter: 0.5, corrupted: 0.35, truth: 0.15 },
  clipNorm: 1,
  weightDecay: 0.01,
  seed: 20261204,
  precision: 'float16',
};

export interface RoundTripRow {
  prompt: string;
  decoded: string;
  exact: boolean;
  slots: SlotAccuracy;
  seconds: number;
}

export interface RoundTripReport {
  rows: RoundTripRow[];
  exact: number;
  slots: SlotAccuracy;
  seconds: number;
}

/**
 * Decode c = T(P*) for each prompt with `decoder` and score the answer against P*: exact
 * (normalised text equal) and slot accuracy (readSlots of the answer against the true scene).
 * @param decodeOptions per prompt (the search needs its start text there)
 */
export async function measureRoundTrip(
  decoder: EmbeddingToText,
  encoder: TextEncoderLike,
  prompts: readonly string[],
  decodeOptions: (prompt: string, index: number) => DecodeOptions,
  onRow?: (row: RoundTripRow, index: number) => void,
): Promise<RoundTripReport> {
  const rows: RoundTripRow[] = [];
  let slots = emptySlotAccuracy();
  const t0 = performance.now();
  for (const [i, prompt] of prompts.entries()) {
    const [e] = await encoder.encode([prompt]);
    const t = performance.now();
    const r = await decoder.decode(
      { data: e!.embedding, tokens: encoder.tokens, dim: encoder.dim, length: e!.length },
      decodeOptions(prompt, i),
    );
    const acc = slotAccuracy(parsePrompt(prompt), readSlots(r.text));
    slots = addSlotAccuracy(slots, acc);
    const row = {
      prompt,
      decoded: r.text,
      exact: normalisePrompt(r.text) === normalisePrompt(prompt),
      slots: acc,
      seconds: (performance.now() - t) / 1000,
    };
    rows.push(row);
    onRow?.(row, i);
  }
  return { rows, exact: rows.filter((r) => r.exact).length, slots, seconds: (performance.now() - t0) / 1000 };
}
