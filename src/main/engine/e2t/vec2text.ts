/**
 * The trained embedding-to-text decoder of the EDITOR reference (vec2text design): an inverter
 * turns the target vector e into a first hypothesis; a corrector, given e, the hypothesis'
 * own vector h = T(hypothesis) (re-tokenised and re-encoded by the diffusion model's text
 * encoder) and the hypothesis' tokens, writes a better one; repeated `steps` times (20) with a
 * sequence-level beam (4): every beam member yields `beam` generations (token-level beam
 * search), all are re-encoded and the `beam` distinct texts closest to e by cosine are kept.
 *
 * Deviations from the reference, on purpose: the answer is the best hypothesis (by cosine)
 * seen at any step, not only the last step's (so a cancelled run keeps its best, and extra
 * steps never make the answer worse); the loop stops early when a step returns the same beam
 * as the step before (a fixed point: further steps would repeat it). Without a corrector the
 * inverter's `beam` generations are re-ranked by cosine.
 */
import { CancelledError, EngineError } from '../errors.js';
import type { CreateSessionOptions } from '../runtime/session.js';
import { loadE2tTokenizer, type E2tTokenizer } from './e2t-tokenizer.js';
import { Seq2SeqStage, type GeneratedSequence } from './seq2seq.js';
import type { DecodedText, DecodeOptions, DecodeProgress, DecodeResult, EmbeddingToText, TextEmbedding } from './types.js';
import { embedderInputDim, inspectVec2TextFolder, readEmbedding, type Vec2TextConfig } from './vec2text-layout.js';

/** What the loop needs from the diffusion model's text encoder: its own tokenisation and output. */
export interface TextEncoderLike {
  /** Positions of the output (77 for CLIP). */
  readonly tokens: number;
  /** Width D of the output rows. */
  readonly dim: number;
  /** `[tokens * dim]` output and the meaningful length (BOS..EOS) of each text. */
  encode(texts: string[]): Promise<{ embedding: Float32Array; length: number }[]>;
}

export interface Vec2TextLoadOptions extends Pick<CreateSessionOptions, 'provider' | 'threads'> {
  /** The text encoder the pair was trained for (its width is checked against config.json). */
  embedder: TextEncoderLike;
  /** Receives the folder's warnings (e.g. no corrector). They are also in `decoder.warnings`. */
  onWarning?: (message: string) => void;
}

export interface Vec2TextProgress extends DecodeProgress {
  stage: 'hypothesis' | 'correction';
  /** Correction steps asked for. */
  steps: number;
  /** Cosine of the best text so far to the target vector. */
  cosine: number;
}

export interface Vec2TextOptions {
  /** Correction steps (default config.defaults.steps, 20). */
  steps?: number;
  /** Sequence-level beam width (default config.defaults.beam, 4); 1 = greedy throughout. */
  beam?: number;
  /** Alternatives returned (default: the beam width). */
  nBest?: number;
  signal?: AbortSignal;
  onProgress?: (e: Vec2TextProgress) => void;
}

/** One re-ranked text: its cosine to the target and mean squared difference of the read vectors. */
export interface RankedText {
  text: string;
  cosine: number;
  distance: number;
}

export interface Vec2TextResult extends DecodeResult {
  cosine: number;
  /** Why the loop ended. */
  stopped: 'steps' | 'converged' | 'inverter-only' | 'cancelled';
  /** Per step (0 = the inverter): the distinct candidates by cosine and the beam kept. */
  trace: { step: number; candidates: RankedText[]; beam: string[] }[];
}

interface Hyp extends RankedText {
  ids: number[];
  vector: Float32Array;
}

/** Embeddings kept per decoder (texts recur across steps and snapshots). */
const EMBED_CACHE_LIMIT = 20_000;

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

function meanSquared(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

export class Vec2TextDecoder implements EmbeddingToText {
  readonly name = 'vec2text';
  private readonly embedCache = new Map<string, Float32Array>();

  constructor(
    readonly dir: string,
    readonly config: Vec2TextConfig,
    private readonly tokenizer: E2tTokenizer,
    private readonly embedder: TextEncoderLike,
    private readonly inverter: Seq2SeqStage,
    private readonly corrector: Seq2SeqStage | undefined,
    readonly warnings: readonly string[],
  ) {}

  get hasCorrector(): boolean {
    return this.corrector !== undefined;
  }

  /** The vector the pair reads from a text-encoder output. */
  targetVector(target: TextEmbedding): Float32Array {
    return readEmbedding(this.config.embedder, target.data, target.tokens, target.dim, target.length ?? target.tokens);
  }

  /** Vectors of texts as the pair reads them, through the diffusion model's own tokenizer + encoder. */
  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((t) => !this.embedCache.has(t)))];
    if (missing.length > 0) {
      const enc = await this.embedder.encode(missing);
      if (this.embedCache.size + missing.length > EMBED_CACHE_LIMIT) this.embedCache.clear();
      enc.forEach((e, i) =>
        this.embedCache.set(
          missing[i]!,
          readEmbedding(this.config.embedder, e.embedding, this.embedder.tokens, this.embedder.dim, e.length),
        ),
      );
    }
    return texts.map((t) => this.embedCache.get(t)!);
  }

  private genOptions(signal?: AbortSignal) {
    const g = this.config.generation;
    return {
      maxLength: g.maxLength,
      startTokenId: g.decoderStartTokenId,
      eosTokenId: g.eosTokenId,
      padTokenId: g.padTokenId,
      lengthPenalty: g.lengthPenalty,
      ...(signal ? { signal } : {}),
    };
  }

  /** Distinct texts of generated sequences, re-encoded and sorted by cosine to `e` (best first). */
  private async rank(seqs: GeneratedSequence[], e: Float32Array): Promise<Hyp[]> {
    const byText = new Map<string, number[]>();
    for (const s of seqs) {
      const text = this.tokenizer.decode(s.ids);
      if (!byText.has(text)) byText.set(text, s.ids);
    }
    const texts = [...byText.keys()];
    const vectors = await this.embedTexts(texts);
    return texts
      .map((text, i) => ({
        text,
        ids: byText.get(text)!,
        vector: vectors[i]!,
        cosine: cosine(vectors[i]!, e),
        distance: meanSquared(vectors[i]!, e),
      }))
      .sort((a, b) => b.cosine - a.cosine);
  }

  /**
   * Decode a target vector.
   * @param target the text-encoder output [tokens, D] (its EOS row at `length - 1`), read as config.embedder.read says
   * @throws CancelledError with `partial` = the best result so far (once there is a hypothesis)
   */
  async invert(target: TextEmbedding, o: Vec2TextOptions = {}): Promise<Vec2TextResult> {
    const e = this.targetVector(target);
    const steps = Math.max(0, o.steps ?? this.config.defaults.steps);
    const W = Math.max(1, o.beam ?? this.config.defaults.beam);
    const nBest = Math.max(1, o.nBest ?? W);
    const trace: Vec2TextResult['trace'] = [];
    const seen = new Map<string, Hyp>();
    let best: Hyp | undefined;
    let scored = 0;
    let step = 0;

    const result = (stopped: Vec2TextResult['stopped']): Vec2TextResult => {
      const alternatives: DecodedText[] = [...seen.values()]
        .sort((a, b) => b.cosine - a.cosine)
        .slice(0, nBest)
        .map((h) => ({ text: h.text, distance: h.distance, score: 1 - h.cosine }));
      // rounds = correction steps completed (trace[0] is the inverter's hypothesis).
      return {
        text: best!.text,
        distance: best!.distance,
        cosine: best!.cosine,
        alternatives,
        rounds: trace.length - 1,
        candidatesScored: scored,
        stopped,
        trace,
      };
    };
    const cancelled = (): CancelledError<Vec2TextResult> =>
      new CancelledError('decoding cancelled', best ? result('cancelled') : undefined);
    const guard = async <T>(p: () => Promise<T>): Promise<T> => {
      if (o.signal?.aborted) throw cancelled();
      try {
        return await p();
      } catch (err) {
        if (err instanceof CancelledError) throw cancelled();
        throw err;
      }
    };
    const keep = (ranked: Hyp[], stage: Vec2TextProgress['stage']): Hyp[] => {
      scored += ranked.length;
      for (const h of ranked) if (!seen.has(h.text)) seen.set(h.text, h);
      if (ranked[0] && (!best || ranked[0].cosine > best.cosine)) best = ranked[0];
      const beam = ranked.slice(0, W);
      trace.push({
        step,
        candidates: ranked.map(({ text, cosine: c, distance }) => ({ text, cosine: c, distance })),
        beam: beam.map((h) => h.text),
      });
      o.onProgress?.({
        round: step,
        best: best!.text,
        distance: best!.distance,
        candidatesScored: scored,
        stage,
        steps,
        cosine: best!.cosine,
      });
      return beam;
    };

    // Step 0: the inverter's hypothesis (greedy when a corrector follows, as the corrector was
    // trained on greedy hypotheses; otherwise `beam` generations re-ranked by cosine).
    const invBeams = this.corrector ? 1 : W;
    const first = await guard(async () => {
      const { embeds, mask } = await this.inverter.project(e, 1);
      const enc = await this.inverter.encode(embeds, mask);
      const gen = await this.inverter.generate(enc, { ...this.genOptions(o.signal), numBeams: invBeams, numReturn: invBeams });
      return this.rank(gen[0]!, e);
    });
    let beam = keep(first, 'hypothesis');
    if (!this.corrector) return result('inverter-only');

    const din = e.length;
    for (step = 1; step <= steps; step++) {
      const current = beam;
      const ranked = await guard(async () => {
        const k = current.length;
        const targets = new Float32Array(k * din);
        const hyps = new Float32Array(k * din);
        current.forEach((h, i) => {
          targets.set(e, i * din);
          hyps.set(h.vector, i * din);
        });
        const pad = this.config.generation.padTokenId;
        const { embeds, mask } = await this.corrector!.project(targets, k, { embedding: hyps, ids: current.map((h) => h.ids), padId: pad });
        const enc = await this.corrector!.encode(embeds, mask);
        const gen = await this.corrector!.generate(enc, { ...this.genOptions(o.signal), numBeams: W, numReturn: W });
        return this.rank(gen.flat(), e);
      });
      beam = keep(ranked, 'correction');
      if (beam.length === current.length && beam.every((h, i) => h.text === current[i]!.text)) return result('converged');
    }
    return result('steps');
  }

  /**
   * EmbeddingToText: `maxRounds` = correction steps, `beam` = the sequence beam; `init`, `match`
   * and `fluencyWeight` do not apply (the pair reads config.embedder.read and starts from its
   * own hypothesis). distance = mean squared difference of the read vectors; score = 1 - cosine.
   */
  async decode(target: TextEmbedding, o: DecodeOptions): Promise<DecodeResult> {
    return this.invert(target, {
      ...(o.maxRounds !== undefined ? { steps: o.maxRounds } : {}),
      ...(o.beam !== undefined ? { beam: o.beam } : {}),
      ...(o.nBest !== undefined ? { nBest: o.nBest } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  }

  async release(): Promise<void> {
    await this.inverter.release();
    await this.corrector?.release();
  }
}

/**
 * Load an E2T folder for a text encoder.
 * @throws EngineError('MODEL_FOLDER') for a bad layout, a pair made for another embedder width,
 *   or a decoder vocabulary that does not cover the tokenizer; ('INVALID_MODEL') when a graph's
 *   inputs/outputs do not match config.json
 */
export async function loadVec2Text(dir: string, o: Vec2TextLoadOptions): Promise<Vec2TextDecoder> {
  const folder = inspectVec2TextFolder(dir);
  const { config } = folder;
  const emb = config.embedder;
  if (emb.dim !== o.embedder.dim) {
    throw new EngineError(
      'MODEL_FOLDER',
      `the E2T pair in ${dir} was made for a text encoder of width ${emb.dim}${emb.description ? ` (${emb.description})` : ''}, ` +
        `but this model set's text encoder is ${o.embedder.dim} wide. Use the pair made for this model set, or decode with the search (--e2t search).`,
    );
  }
  if (emb.read === 'all' && emb.positions! > o.embedder.tokens) {
    throw new EngineError(
      'MODEL_FOLDER',
      `the E2T pair in ${dir} reads ${emb.positions} positions; this text encoder has ${o.embedder.tokens}.`,
    );
  }
  const tokenizer = await loadE2tTokenizer(dir);
  const stages = [['inverter', config.inverter] as const, ...(folder.hasCorrector ? [['corrector', config.corrector!] as const] : [])];
  for (const [kind, s] of stages) {
    if (tokenizer.idSpace > s.vocabSize) {
      throw new EngineError(
        'MODEL_FOLDER',
        `the ${kind} in ${dir} has ${s.vocabSize} output tokens but its tokenizer has ${tokenizer.idSpace} ids: the vocabulary does not cover the tokenizer ` +
          '(a tokenizer from another model?). Export the tokenizer the pair was trained with.',
      );
    }
  }
  const g = config.generation;
  for (const [what, id] of [
    ['eos', g.eosTokenId],
    ['pad', g.padTokenId],
    ['decoder start', g.decoderStartTokenId],
  ] as const) {
    if (id >= config.inverter.vocabSize)
      throw new EngineError(
        'MODEL_FOLDER',
        `config.json's ${what} token id ${id} is outside the decoder's vocabulary (${config.inverter.vocabSize})`,
      );
  }
  if (tokenizer.eosTokenId !== undefined && tokenizer.eosTokenId !== g.eosTokenId) {
    throw new EngineError(
      'MODEL_FOLDER',
      `the tokenizer's EOS id (${tokenizer.eosTokenId}) is not config.json's eosTokenId (${g.eosTokenId})`,
    );
  }
  for (const w of folder.warnings) o.onWarning?.(w);
  const din = embedderInputDim(emb);
  const sessionOpts: CreateSessionOptions = {
    ...(o.provider ? { provider: o.provider } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
  };
  const inverter = await Seq2SeqStage.open(dir, 'inverter', { ...config.inverter, embedderDim: din }, sessionOpts);
  let corrector: Seq2SeqStage | undefined;
  try {
    if (folder.hasCorrector) corrector = await Seq2SeqStage.open(dir, 'corrector', { ...config.corrector!, embedderDim: din }, sessionOpts);
  } catch (e) {
    await inverter.release();
    throw e;
  }
  return new Vec2TextDecoder(dir, config, tokenizer, o.embedder, inverter, corrector, folder.warnings);
}
