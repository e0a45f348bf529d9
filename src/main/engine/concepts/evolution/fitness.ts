/**
 * Fitness functions of an evolution session (higher is better):
 *
 * - `checker:PROMPT` — the shapes world's checker reads the scene back from the image; fitness =
 *   slots right / slots total against PROMPT's scene (background, and per object shape, colour,
 *   size, position; missing or extra objects count every slot wrong). 1 = full match;
 * - `clip:IMAGE` — CLIP image cosine to a target image (the model set's own CLIP, else CLIP
 *   ViT-L/14 from the cache);
 * - `text:TEXT` — CLIP ViT-L/14 image–text cosine (its text tower from the cache).
 */
import { EngineError } from '../../errors.js';
import type { ImageTensor } from '../../attention/image-attention.js';
import { loadHubModel, type HfOptions } from '../../hf/transformers.js';
import type { ImageScorer } from '../../inversion/invert.js';
import { CLIP_IMAGE_MANIFEST, CLIP_IMAGE_REPO, cosine, loadClipImageScorer } from '../../metrics/clip-image.js';
import { checkImage, parsePrompt, slotAccuracy, tensorToImage, type Scene } from '../../models/shapes/world/index.js';

export type FitnessSpec = { kind: 'checker'; prompt: string } | { kind: 'clip'; image: string } | { kind: 'text'; text: string };

export interface Fitness {
  readonly label: string;
  /** The best possible value, when there is one (1 for the checker): a run may stop there. */
  readonly max?: number;
  score(image: ImageTensor): Promise<number>;
  release(): Promise<void>;
}

/**
 * Parse the CLI form `checker:PROMPT`, `clip:IMAGE` or `text:TEXT`.
 * @throws EngineError('INVALID_ARGUMENT') for anything else
 */
export function parseFitnessSpec(s: string): FitnessSpec {
  const m = /^(checker|clip|text):([\s\S]+)$/.exec(s.trim());
  if (!m || m[2]!.trim() === '')
    throw new EngineError('INVALID_ARGUMENT', `a fitness is clip:IMAGE, text:"TEXT" or checker:"PROMPT" (got '${s}')`);
  const v = m[2]!.trim();
  return m[1] === 'checker' ? { kind: 'checker', prompt: v } : m[1] === 'clip' ? { kind: 'clip', image: v } : { kind: 'text', text: v };
}

/** Slots right over slots total of `image` against `target` (the checker's reading). */
export function checkerScore(target: Scene, image: ImageTensor): number {
  const read = checkImage(tensorToImage(image.data, image.width, image.height));
  const acc = slotAccuracy(target, read.scene);
  return acc.total ? acc.correct / acc.total : 0;
}

/**
 * The shapes-world checker fitness toward a caption of the world's grammar.
 * @throws PromptParseError (an EngineError) when the prompt is not a shapes-world caption
 */
export function checkerFitness(prompt: string): Fitness {
  const target = parsePrompt(prompt);
  return {
    label: `checker:${prompt}`,
    max: 1,
    score: async (image) => checkerScore(target, image),
    release: async () => {},
  };
}

/** CLIP image similarity to `target` with a loaded scorer (kept by the caller). */
export function clipFitness(target: ImageTensor, scorer: ImageScorer, label = 'clip'): Fitness {
  return {
    label,
    score: (image) => scorer.score(image, target),
    release: async () => {},
  };
}

/**
 * CLIP ViT-L/14 image–text similarity to `text`: the vision tower (metrics/clip-image.ts) and the
 * text tower (`onnx/text_model.onnx` of the same hub folder), both from the cache only.
 * @throws EngineError('NOT_INSTALLED') with the install command when either tower is missing
 */
export async function textFitness(text: string, opts: Omit<HfOptions, 'offline'>): Promise<Fitness> {
  const installHint = `Install it with \`inversion-studio models download ${CLIP_IMAGE_MANIFEST}\` (image and text towers) on a connected machine, or copy the ${CLIP_IMAGE_REPO} hub folder to ${opts.cacheDir}/${CLIP_IMAGE_REPO}.`;
  const textTower = await loadHubModel(
    { ...opts, offline: true },
    {
      label: 'the text tower of CLIP ViT-L/14 (text fitness)',
      repo: CLIP_IMAGE_REPO,
      manifestId: CLIP_IMAGE_MANIFEST,
      files: ['tokenizer.json', 'onnx/text_model.onnx'],
      installHint,
    },
    async (t, dir) => ({
      tokenizer: await t.AutoTokenizer.from_pretrained(dir),
      model: await t.CLIPTextModelWithProjection.from_pretrained(dir, { device: (opts.device ?? 'cpu') as 'cpu', dtype: 'fp32' }),
    }),
  );
  const vision = await loadClipImageScorer(opts);
  const inputs = (textTower.tokenizer as unknown as (s: string[], o: object) => Record<string, unknown>)([text], {
    padding: true,
    truncation: true,
  });
  const out = (await textTower.model(inputs)) as { text_embeds: { data: Float32Array } };
  const textEmbedding = Float32Array.from(out.text_embeds.data);
  return {
    label: `text:${text}`,
    score: async (image) => cosine(await vision.embed(image), textEmbedding),
    release: async () => {
      await vision.release();
      await textTower.model.dispose();
    },
  };
}
