/**
 * Inversion phase 3, embedding to text: decode each refined snapshot, starting from the previous
 * snapshot's text, and ask the last (best) one for runners-up.
 */
import { CancelledError } from '../errors.js';
import { HotFlipDecoder } from '../e2t/hotflip-decoder.js';
import type { LanguageModel } from '../e2t/language-model.js';
import { createTextEncoderOracle } from '../e2t/text-encoder-oracle.js';
import type { DecodeResult, EmbeddingToText } from '../e2t/types.js';
import type { InversionModels } from './inversion-models.js';
import type { InvertProgress } from './invert.js';
import { DEFAULT_LM_FLUENCY_WEIGHT, type InvertSettings } from './presets.js';
import type { Refinement } from './refine-embedding.js';

/** A text decoded from a snapshot: the snapshot's iteration and loss, and the text's embedding distance to it. */
export interface SnapshotText {
  prompt: string;
  iteration: number;
  loss: number;
  e2tDistance: number;
}

export interface DecodedSnapshots {
  /** One per snapshot decoded, in order; the last is the best embedding's. */
  decoded: SnapshotText[];
  /** The best embedding's runners-up (at most settings.rankAlternatives, none equal to another text). */
  alternatives: SnapshotText[];
  /** The fluency weight the decoder applied (0 without a language model). */
  fluencyWeight: number;
}

/**
 * After a cancellation only the last snapshot (the best embedding) is decoded, and in full if the
 * cancellation came before this phase: that decoding is the result. A cancellation during
 * decoding stops the decoder and keeps the best text it had.
 */
export async function decodeSnapshots(
  m: InversionModels,
  r: Refinement,
  startText: string,
  s: InvertSettings,
  o: {
    e2t?: EmbeddingToText;
    lm?: LanguageModel;
    signal?: AbortSignal;
    emit: (e: InvertProgress) => void;
    releases: (() => Promise<void>)[];
  },
): Promise<DecodedSnapshots> {
  const { snapshots } = r.refined;
  const { signal, emit } = o;
  emit({ phase: 'decoding', total: snapshots.length });
  let e2t = o.e2t;
  if (!e2t) {
    const oracle = await createTextEncoderOracle(m.textEncoder, m.tokenizer, m.sessionOptions ? { sessionOptions: m.sessionOptions } : {});
    o.releases.push(() => oracle.release());
    e2t = new HotFlipDecoder(oracle, o.lm ? { lm: o.lm } : {});
  }
  const fluencyWeight = o.lm ? (s.fluencyWeight ?? DEFAULT_LM_FLUENCY_WEIGHT) : 0;
  const decodeSignal = signal && !signal.aborted ? signal : undefined;
  const decoded: SnapshotText[] = [];
  const alternatives: SnapshotText[] = [];
  let hypothesis = startText;
  const lastIndex = snapshots.length - 1;
  for (let k = 0; k <= lastIndex; k++) {
    // Once cancelled, skip to the last snapshot (the best embedding): it is the result worth
    // decoding, the earlier ones are only alternatives.
    if (signal?.aborted && k < lastIndex) k = lastIndex;
    const snap = snapshots[k]!;
    // Texts already competing in the ranking: runners-up equal to one of them add nothing, so
    // the last decoding is asked for enough of them to leave rankAlternatives new ones.
    const taken = new Set([startText, ...decoded.map((d) => d.prompt)]);
    const nBest = k === lastIndex && s.rankAlternatives > 0 ? s.rankAlternatives + 1 + taken.size : undefined;
    let d: DecodeResult;
    try {
      d = await e2t.decode(
        { data: snap.embedding, tokens: m.tokens, dim: m.dim, length: r.length },
        {
          init: hypothesis,
          beam: s.e2tBeam,
          maxRounds: s.e2tRounds,
          fluencyWeight,
          ...(nBest ? { nBest } : {}),
          ...(decodeSignal ? { signal: decodeSignal } : {}),
        },
      );
    } catch (e) {
      if (!(e instanceof CancelledError) || !signal?.aborted) throw e;
      // The decoder's best text so far is this snapshot's (final) decoding; a decoder that
      // does not report one leaves the snapshots decoded before it.
      const partial = e.partial as { text?: unknown; distance?: unknown } | undefined;
      if (typeof partial?.text === 'string' && typeof partial.distance === 'number') {
        decoded.push({ prompt: partial.text, iteration: snap.iteration, loss: snap.loss, e2tDistance: partial.distance });
        emit({ phase: 'decoding', iteration: k + 1, total: snapshots.length, message: partial.text });
      }
      break;
    }
    hypothesis = d.text;
    decoded.push({ prompt: d.text, iteration: snap.iteration, loss: snap.loss, e2tDistance: d.distance });
    if (k === lastIndex) {
      // The best embedding's runners-up: near-equal in embedding distance, so only
      // regeneration can tell which reproduces the image best.
      taken.add(d.text);
      for (const alt of d.alternatives) {
        if (alternatives.length === s.rankAlternatives) break;
        if (taken.has(alt.text)) continue;
        taken.add(alt.text);
        alternatives.push({ prompt: alt.text, iteration: snap.iteration, loss: snap.loss, e2tDistance: alt.distance });
      }
    }
    emit({ phase: 'decoding', iteration: k + 1, total: snapshots.length, message: d.text });
  }
  return { decoded, alternatives, fluencyWeight };
}
