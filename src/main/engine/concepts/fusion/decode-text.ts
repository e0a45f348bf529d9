/**
 * Fused embeddings back to readable text, through whichever embedding-to-text decoder the model
 * set has (e2t/choose-decoder.ts: its trained vec2text pair, else the training-free search).
 * One small handle so fusion and evolution open the decoder once and decode many embeddings.
 */
import path from 'node:path';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import { openE2tDecoder, textEncoderOfModelSet, type E2tChoice, type OpenedE2t } from '../../e2t/choose-decoder.js';
import type { LanguageModel } from '../../e2t/language-model.js';
import { createTextEncoderOracle } from '../../e2t/text-encoder-oracle.js';
import { DEFAULT_LM_FLUENCY_WEIGHT } from '../../inversion/presets.js';
import { readModel } from '../../onnx/model-io.js';
import { sessionOptions } from '../../runtime/session.js';

export interface DecodedEmbedding {
  text: string;
  /** Embedding distance of `text` to the target (mean squared difference over the matched positions). */
  distance: number;
  decoder: 'vec2text' | 'search';
}

export interface EmbeddingDecoder {
  /**
   * Decode `embedding` ([tokens·D]); the search starts from each of `inits` in turn and the
   * closest text wins (the trained pair ignores them).
   * @param length meaningful positions incl. BOS/EOS of the target (the longest parent's)
   */
  decode(embedding: Float32Array, o: { length: number; inits: readonly string[]; signal?: AbortSignal }): Promise<DecodedEmbedding>;
  readonly warnings: readonly string[];
  release(): Promise<void>;
}

export interface EmbeddingDecoderOptions {
  choice?: E2tChoice;
  lm?: LanguageModel;
  /** Search settings: beam width (default 4) and rounds (default 20). */
  beam?: number;
  rounds?: number;
  onWarning?: (message: string) => void;
}

/** Open the model set's decoder (lazily: nothing is built until the first decode). */
export function openEmbeddingDecoder(ms: ModelSet, o: EmbeddingDecoderOptions = {}): EmbeddingDecoder {
  let opened: Promise<OpenedE2t> | undefined;
  const releases: (() => Promise<void>)[] = [];
  const warnings: string[] = [];
  const open = () =>
    (opened ??= openE2tDecoder({
      choice: o.choice ?? 'auto',
      modelSetDir: ms.dir,
      encoder: textEncoderOfModelSet(ms),
      oracle: async () => {
        const oracle = await createTextEncoderOracle(await readModel(path.join(ms.dir, 'text_encoder', 'model.onnx')), ms.tokenizer, {
          sessionOptions: sessionOptions(ms.provider),
        });
        releases.push(() => oracle.release());
        return oracle;
      },
      ...(o.lm ? { lm: o.lm } : {}),
      onWarning: (m) => {
        warnings.push(m);
        o.onWarning?.(m);
      },
    }));
  return {
    warnings,
    async decode(embedding, d) {
      const e2t = await open();
      const target = { data: embedding, tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize, length: d.length };
      const inits = e2t.kind === 'vec2text' ? [d.inits[0] ?? ''] : [...new Set(d.inits.filter((s) => s.trim() !== ''))];
      let best: DecodedEmbedding | undefined;
      for (const init of inits.length ? inits : ['']) {
        const r = await e2t.decoder.decode(target, {
          init,
          beam: o.beam ?? 4,
          maxRounds: o.rounds ?? 20,
          ...(o.lm ? { fluencyWeight: DEFAULT_LM_FLUENCY_WEIGHT } : {}),
          ...(d.signal ? { signal: d.signal } : {}),
        });
        if (!best || r.distance < best.distance) best = { text: r.text, distance: r.distance, decoder: e2t.kind };
      }
      return best!;
    },
    async release() {
      if (opened) await (await opened.catch(() => undefined))?.release();
      for (const r of releases.splice(0)) await r().catch(() => undefined);
      opened = undefined;
    },
  };
}
