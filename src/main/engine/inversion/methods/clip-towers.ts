/**
 * A CLIP with both towers, as PEZ needs (text–image cosine, differentiated through the text
 * tower) and the CLIP metrics use (image–image cosine):
 *
 * - the shapes world's CLIP, `<model set>/clip/` (models/shapes/clip.ts): `image_encoder.onnx`
 *   (`pixel_values` [B,3,64,64] CHW RGB in [-1, 1] -> `image_embeds`), `text_encoder.onnx`
 *   (`input_ids` int32 [B,77] -> `text_embeds`), `config.json` naming both and the tokenizer
 *   folder (`../tokenizer`);
 * - CLIP ViT-L/14 (`Xenova/clip-vit-large-patch14`, `inversion-studio models download
 *   clip-vit-l14`): the image tower through transformers.js (metrics/clip-image.ts), the text
 *   tower read from `onnx/text_model.onnx` (`text_embeds`) with our CLIP tokenizer.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../../errors.js';
import { loadClipTokenizer } from '../../diffusion/tokenizer/index.js';
import { locateHubModel } from '../../hf/transformers.js';
import { CLIP_IMAGE_MANIFEST, CLIP_IMAGE_REPO, loadClipImageScorer } from '../../metrics/clip-image.js';
import type { Model } from '../../onnx/ir.js';
import { readModel } from '../../onnx/model-io.js';
import { sessionOptions as defaultSessionOptions } from '../../runtime/session.js';
import { floatTensor, tensorToFloat32 } from '../../runtime/tensors.js';
import type { TargetImage } from '../invert.js';
import type { TowerTokenizer } from './text-tower.js';

export interface ClipTowers {
  /** What it is, for reports: 'shapes-clip', 'Xenova/clip-vit-large-patch14'. */
  readonly name: string;
  /** Unit-length image embedding of a CHW [-1, 1] image (any size: resized as the tower needs). */
  embedImage(image: TargetImage): Promise<Float32Array>;
  /** The text tower as a graph, its pooled-embedding output and its tokenizer. */
  readonly textModel: Model;
  readonly textOutput: string;
  readonly tokenizer: TowerTokenizer;
  readonly sessionOptions?: ort.InferenceSession.SessionOptions;
  release(): Promise<void>;
}

/** Unit-length copy. */
export function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const s = n > 0 ? 1 / Math.sqrt(n) : 0;
  return v.map((x) => x * s);
}

/**
 * Area resampling of a CHW image to `w`×`h` (each output pixel the mean of the input area it
 * covers; exact for integer factors down, a box filter up).
 */
export function resizeChw(image: TargetImage, w: number, h: number): TargetImage {
  if (image.width === w && image.height === h) return image;
  const weights = (from: number, to: number): { i: number; w: number }[][] => {
    const scale = from / to;
    return Array.from({ length: to }, (_, o) => {
      const a = o * scale;
      const b = (o + 1) * scale;
      const taps: { i: number; w: number }[] = [];
      for (let i = Math.floor(a); i < Math.min(from, Math.ceil(b)); i++) {
        const wt = Math.min(b, i + 1) - Math.max(a, i);
        if (wt > 0) taps.push({ i, w: wt / scale });
      }
      return taps;
    });
  };
  const wx = weights(image.width, w);
  const wy = weights(image.height, h);
  const out = new Float32Array(3 * w * h);
  const W = image.width;
  const H = image.height;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (const ty of wy[y]!) for (const tx of wx[x]!) s += ty.w * tx.w * image.data[c * W * H + ty.i * W + tx.i]!;
        out[c * w * h + y * w + x] = s;
      }
    }
  }
  return { data: out, width: w, height: h };
}

interface ShapesClipConfig {
  model?: string;
  image_encoder?: { file?: string; input?: { name?: string; size?: number }; output?: string };
  text_encoder?: { file?: string; output?: string; tokenizer?: string };
}

/** True when `setDir` has a world CLIP (`clip/config.json` with model 'shapes-clip'). */
export function hasShapesClip(setDir: string): boolean {
  return existsSync(path.join(setDir, 'clip', 'config.json'));
}

/**
 * The shapes world's CLIP of a model set folder.
 * @throws EngineError('NOT_INSTALLED') when `<setDir>/clip/` is absent or incomplete
 */
export async function loadShapesClipTowers(
  setDir: string,
  o: { sessionOptions?: ort.InferenceSession.SessionOptions } = {},
): Promise<ClipTowers> {
  const dir = path.join(setDir, 'clip');
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile))
    throw new EngineError('NOT_INSTALLED', `the model set ${setDir} has no CLIP (clip/config.json): PEZ and the CLIP metric need one`);
  let config: ShapesClipConfig;
  try {
    config = JSON.parse(await readFile(configFile, 'utf8')) as ShapesClipConfig;
  } catch (e) {
    throw new EngineError('NOT_INSTALLED', `${configFile} is not readable JSON (${(e as Error).message})`);
  }
  const imageFile = path.join(dir, config.image_encoder?.file ?? 'image_encoder.onnx');
  const textFile = path.join(dir, config.text_encoder?.file ?? 'text_encoder.onnx');
  for (const f of [imageFile, textFile])
    if (!existsSync(f)) throw new EngineError('NOT_INSTALLED', `the world CLIP in ${dir} is incomplete: ${path.basename(f)} is missing`);
  const size = config.image_encoder?.input?.size ?? 64;
  const inputName = config.image_encoder?.input?.name ?? 'pixel_values';
  const imageOutput = config.image_encoder?.output ?? 'image_embeds';
  const opts = o.sessionOptions ?? defaultSessionOptions('cpu');
  const imageSession = await ort.InferenceSession.create(imageFile, opts);
  const tokenizer = await loadClipTokenizer(path.resolve(dir, config.text_encoder?.tokenizer ?? '../tokenizer'));
  const textModel = await readModel(textFile);
  const cache = new WeakMap<Float32Array, Float32Array>();
  return {
    name: config.model ?? 'shapes-clip',
    textModel,
    textOutput: config.text_encoder?.output ?? 'text_embeds',
    tokenizer,
    sessionOptions: opts,
    async embedImage(image) {
      const hit = cache.get(image.data);
      if (hit) return hit;
      const x = resizeChw(image, size, size);
      const res = await imageSession.run({ [inputName]: floatTensor(x.data, [1, 3, size, size]) }, [imageOutput]);
      const e = unit(Float32Array.from(tensorToFloat32(res[imageOutput]!)));
      cache.set(image.data, e);
      return e;
    },
    release: () => imageSession.release(),
  };
}

/** True when CLIP ViT-L/14 with its text tower is in the cache (files only). */
export function vitL14TowersInstalled(cacheDir: string): boolean {
  const ref = locateHubModel(cacheDir, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST);
  return (
    ref !== undefined &&
    existsSync(path.join(ref.dir, 'onnx', 'text_model.onnx')) &&
    existsSync(path.join(ref.dir, 'onnx', 'vision_model.onnx'))
  );
}

/**
 * CLIP ViT-L/14 with both towers from the cache.
 * @throws EngineError('NOT_INSTALLED') saying how to install it
 */
export async function loadVitL14Towers(o: { cacheDir: string; device?: string }): Promise<ClipTowers> {
  const ref = locateHubModel(o.cacheDir, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST);
  const textFile = ref ? path.join(ref.dir, 'onnx', 'text_model.onnx') : undefined;
  if (!ref || !textFile || !existsSync(textFile)) {
    throw new EngineError(
      'NOT_INSTALLED',
      `CLIP ViT-L/14 with its text tower (${CLIP_IMAGE_REPO}, onnx/text_model.onnx) is not installed in ${o.cacheDir}. ` +
        `Install it with \`inversion-studio models download ${CLIP_IMAGE_MANIFEST}\` on a connected machine.`,
    );
  }
  const scorer = await loadClipImageScorer({ cacheDir: o.cacheDir, ...(o.device ? { device: o.device } : {}) });
  const tokenizer = await loadClipTokenizer(ref.dir);
  const textModel = await readModel(textFile);
  const output = textModel.graph.outputs.some((v) => v.name === 'text_embeds') ? 'text_embeds' : textModel.graph.outputs[0]!.name;
  return {
    name: CLIP_IMAGE_REPO,
    textModel,
    textOutput: output,
    tokenizer,
    embedImage: (image) => scorer.embed(image),
    release: () => scorer.release(),
  };
}

/**
 * The CLIP PEZ uses with a model set: the set's own world CLIP (`<set>/clip/`) when it has one,
 * else CLIP ViT-L/14 from the cache when installed with its text tower, else undefined.
 * @throws EngineError('NOT_INSTALLED') when one is there but incomplete
 */
export async function loadMethodClip(o: {
  setDir: string;
  cacheDir: string;
  sessionOptions?: ort.InferenceSession.SessionOptions;
}): Promise<ClipTowers | undefined> {
  if (hasShapesClip(o.setDir)) return loadShapesClipTowers(o.setDir, o.sessionOptions ? { sessionOptions: o.sessionOptions } : {});
  if (vitL14TowersInstalled(o.cacheDir)) return loadVitL14Towers({ cacheDir: o.cacheDir });
  return undefined;
}
