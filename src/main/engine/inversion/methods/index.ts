/**
 * One entry point for every inversion method: `invertWith('editor' | 'ph2p' | 'pez' | 'caption',
 * context, target, options)`, each returning EDITOR's result shape (MethodResult). The context
 * holds the loaded models; a method whose model is missing throws NOT_INSTALLED with what to
 * install (`methodUnavailable` says so without running anything).
 */
import { EngineError } from '../../errors.js';
import type { LanguageModel } from '../../e2t/language-model.js';
import type { Captioner } from '../captioner.js';
import type { InversionModels } from '../inversion-models.js';
import { invert, type ImageScorer, type InitSpec, type InvertProgress, type TargetImage } from '../invert.js';
import { presetSettings, type InvertSettings, type PresetName } from '../presets.js';
import { invertCaption } from './caption.js';
import type { ClipTowers } from './clip-towers.js';
import { invertPez, PEZ_PRESETS, type PezSettings } from './pez.js';
import { invertPh2p, PH2P_PRESETS, type Ph2pSettings } from './ph2p.js';
import type { TextTower } from './text-tower.js';
import type { MethodName, MethodResult } from './types.js';

export * from './types.js';
export { PEZ_PRESETS, type PezSettings } from './pez.js';
export { PH2P_PRESETS, type Ph2pSettings } from './ph2p.js';

/** The models the methods draw on; each method needs only some (see methodUnavailable). */
export interface MethodContext {
  /** The diffusion model set (EDITOR, PH2P). */
  models?: InversionModels;
  /** EDITOR's start text and the caption baseline. */
  captioner?: Captioner;
  /** EDITOR's candidate ranking (CLIP image similarity); without it EDITOR ranks by pixel MSE. */
  scorer?: ImageScorer;
  /** EDITOR's decoder language model. */
  lm?: LanguageModel;
  /** PEZ's CLIP (both towers). */
  clip?: ClipTowers;
  /** Differentiable text towers kept across images (built on first use by the caller; see createPh2pTower / createPezTower). */
  towers?: { ph2p?: TextTower; pez?: TextTower };
}

export interface MethodOptions {
  /** `fast` (default) or `paper` (the references' iterations). */
  preset?: PresetName;
  /** Seed of the method's randomness (EDITOR's sampler noise, the baselines' start tokens and draws). */
  seed?: number;
  /** Iterations of the method's optimisation (all but the caption). */
  iterations?: number;
  /** EDITOR settings beyond the preset (e.g. `steps`). */
  editor?: Partial<InvertSettings>;
  ph2p?: Partial<Ph2pSettings>;
  pez?: Partial<PezSettings>;
  /**
   * Start-text length in tokens: EDITOR's caption is cut to this many tokens (the paper's
   * initialisation-length ablation); PH2P's and PEZ's prompt length.
   */
  initLength?: number;
  signal?: AbortSignal;
  onProgress?: (e: InvertProgress) => void;
}

/** Why `method` cannot run with `ctx` (what to install), or undefined when it can. */
export function methodUnavailable(method: MethodName, ctx: MethodContext): string | undefined {
  switch (method) {
    case 'editor':
      return ctx.models ? undefined : 'EDITOR needs a diffusion model set';
    case 'ph2p':
      if (!ctx.models) return 'PH2P needs a diffusion model set';
      return ctx.models.encodeLatent ? undefined : 'PH2P needs a VAE encoder (vae_encoder/model.onnx) in the model set';
    case 'pez':
      return ctx.clip
        ? undefined
        : "PEZ needs a CLIP with a text tower: CLIP ViT-L/14 (`inversion-studio models download clip-vit-l14`), or the model set's own clip/ (the shapes set)";
    case 'caption':
      return ctx.captioner
        ? undefined
        : "the caption baseline needs a captioner: `inversion-studio models download florence2-base-ft` (or vit-gpt2), or the model set's own captioner/";
  }
}

type Tokenizer = InversionModels['tokenizer'] & { decode?(ids: ArrayLike<number>): string };

/** The first `n` tokens of `text` under the model set's tokenizer (words when it cannot decode). */
export function truncateToTokens(tokenizer: Tokenizer, text: string, n: number): string {
  const { ids, length } = tokenizer.encode(text);
  if (length - 2 <= n) return text;
  if (tokenizer.decode) return tokenizer.decode(ids.subarray(1, 1 + n));
  return text.split(/\s+/).slice(0, n).join(' ');
}

async function runEditor(ctx: MethodContext, target: TargetImage, o: MethodOptions): Promise<MethodResult> {
  const m = ctx.models!;
  const settings = presetSettings(o.preset ?? 'fast', {
    ...o.editor,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
  });
  let init: InitSpec;
  if (ctx.captioner && o.initLength !== undefined) {
    // Caption here so the start text can be cut to the ablation's length.
    const caption = await invertCaption(ctx.captioner, target, o.signal ? { signal: o.signal } : {});
    init = { kind: 'text', text: truncateToTokens(m.tokenizer as Tokenizer, caption.prompt, o.initLength) };
  } else if (ctx.captioner) init = { kind: 'caption', cacheDir: '', instance: ctx.captioner };
  else init = { kind: 'random', ...(o.initLength !== undefined ? { words: o.initLength } : {}) };
  const r = await invert(m, target, {
    settings,
    init,
    ...(ctx.scorer ? { scorer: ctx.scorer } : {}),
    ...(ctx.lm ? { lm: ctx.lm } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  return { ...r, method: 'editor' };
}

/**
 * Invert `target` (CHW [-1, 1] at the size the methods run at) with `method`.
 * @throws EngineError('NOT_INSTALLED') when the method's model is not in `ctx` (methodUnavailable's reason)
 */
export async function invertWith(
  method: MethodName,
  ctx: MethodContext,
  target: TargetImage,
  o: MethodOptions = {},
): Promise<MethodResult> {
  const why = methodUnavailable(method, ctx);
  if (why) throw new EngineError('NOT_INSTALLED', why);
  const preset = o.preset ?? 'fast';
  const progress = { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
  const common = {
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
    ...(o.initLength !== undefined ? { length: o.initLength } : {}),
  };
  switch (method) {
    case 'editor':
      return runEditor(ctx, target, o);
    case 'caption':
      return invertCaption(ctx.captioner!, target, progress);
    case 'ph2p':
      return invertPh2p(ctx.models!, target, {
        settings: { ...PH2P_PRESETS[preset], ...o.ph2p, ...common },
        ...(ctx.towers?.ph2p ? { tower: ctx.towers.ph2p } : {}),
        ...progress,
      });
    case 'pez':
      return invertPez(ctx.clip!, target, {
        settings: { ...PEZ_PRESETS[preset], ...o.pez, ...common },
        ...(ctx.towers?.pez ? { tower: ctx.towers.pez } : {}),
        ...progress,
      });
  }
}
