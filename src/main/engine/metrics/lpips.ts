/**
 * LPIPS (Zhang et al. 2018), AlexNet, version 0.1 with the standard learned weights, as the papers
 * report it (lower = more similar). The ONNX export is the one `deepghs/imgutils-models` ships
 * (exported by imgutils' zoo/lpips from `lpips.LPIPS(net='alex')`), two graphs:
 *
 *   lpips/lpips_feature.onnx  `input` [B,3,H,W] RGB in [0, 1] -> `feat_0..feat_4`: AlexNet's five
 *                             ReLU maps of (2x − 1 − shift) / scale, each unit-normalised over channels
 *   lpips/lpips_diff.onnx     `feat_x_0..4`, `feat_y_0..4` -> `output` [B]: Σ_l mean_hw(w_l · (fx − fy)²)
 *
 * `inversion-studio models download lpips-alex` (models/lpips-alex.json) puts them in the cache;
 * a copy of the hub folder at `<cache>/deepghs/imgutils-models/` works too.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors.js';
import type { TargetImage } from '../inversion/invert.js';
import { sessionOptions as defaultSessionOptions } from '../runtime/session.js';
import { floatTensor } from '../runtime/tensors.js';

export const LPIPS_REPO = 'deepghs/imgutils-models';
export const LPIPS_MANIFEST = 'lpips-alex';
export const LPIPS_FEATURE_FILE = 'lpips/lpips_feature.onnx';
export const LPIPS_DIFF_FILE = 'lpips/lpips_diff.onnx';
/** Layers of AlexNet LPIPS reads (relu1..relu5). */
export const LPIPS_LAYERS = 5;
/** Smallest image side AlexNet's five stages accept. */
export const LPIPS_MIN_SIZE = 32;

/** One feature map [C, H, W]. */
export interface FeatureMap {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Divide each pixel's channel vector by its L2 norm (+1e-10, as lpips.normalize_tensor). */
export function normaliseChannels(f: FeatureMap): FeatureMap {
  const { channels: C, height: H, width: W } = f;
  const out = new Float32Array(f.data.length);
  for (let p = 0; p < H * W; p++) {
    let n = 0;
    for (let c = 0; c < C; c++) n += f.data[c * H * W + p]! ** 2;
    const s = 1 / (Math.sqrt(n) + 1e-10);
    for (let c = 0; c < C; c++) out[c * H * W + p] = f.data[c * H * W + p]! * s;
  }
  return { ...f, data: out };
}

/**
 * The LPIPS distance from per-layer feature maps: Σ_l mean_{h,w} Σ_c w_l[c] (x̂ − ŷ)², with x̂, ŷ
 * the channel-normalised maps (pass `normalised: true` when they already are, as the feature
 * graph's outputs).
 */
export function lpipsFromFeatures(fx: FeatureMap[], fy: FeatureMap[], weights: Float32Array[], o: { normalised?: boolean } = {}): number {
  let total = 0;
  for (let l = 0; l < fx.length; l++) {
    const x = o.normalised ? fx[l]! : normaliseChannels(fx[l]!);
    const y = o.normalised ? fy[l]! : normaliseChannels(fy[l]!);
    const { channels: C, height: H, width: W } = x;
    let s = 0;
    for (let c = 0; c < C; c++) {
      const w = weights[l]![c]!;
      for (let p = 0; p < H * W; p++) s += w * (x.data[c * H * W + p]! - y.data[c * H * W + p]!) ** 2;
    }
    total += s / (H * W);
  }
  return total;
}

/** The LPIPS folder in the cache (either layout), if the two graphs are there. */
export function locateLpips(cacheDir: string): string | undefined {
  for (const dir of [path.join(cacheDir, 'models', LPIPS_MANIFEST), path.join(cacheDir, ...LPIPS_REPO.split('/'))])
    if (existsSync(path.join(dir, LPIPS_FEATURE_FILE)) && existsSync(path.join(dir, LPIPS_DIFF_FILE))) return dir;
  return undefined;
}

export function lpipsInstalled(cacheDir: string): boolean {
  return locateLpips(cacheDir) !== undefined;
}

export interface LpipsModel {
  /** LPIPS between two CHW [-1, 1] images of the same size (≥ 32 px a side). */
  distance(a: TargetImage, b: TargetImage): Promise<number>;
  release(): Promise<void>;
}

/**
 * Load LPIPS from the cache.
 * @throws EngineError('NOT_INSTALLED') saying how to install it
 */
export async function loadLpips(o: { cacheDir: string; sessionOptions?: ort.InferenceSession.SessionOptions }): Promise<LpipsModel> {
  const dir = locateLpips(o.cacheDir);
  if (!dir) {
    throw new EngineError(
      'NOT_INSTALLED',
      `LPIPS (AlexNet, ${LPIPS_REPO}: ${LPIPS_FEATURE_FILE} and ${LPIPS_DIFF_FILE}) is not installed in ${o.cacheDir}. ` +
        `Install it with \`inversion-studio models download ${LPIPS_MANIFEST}\` on a connected machine, or copy the two files to ${o.cacheDir}/${LPIPS_REPO}/lpips/.`,
    );
  }
  const opts = o.sessionOptions ?? defaultSessionOptions('cpu');
  const feature = await ort.InferenceSession.create(path.join(dir, LPIPS_FEATURE_FILE), opts);
  const diff = await ort.InferenceSession.create(path.join(dir, LPIPS_DIFF_FILE), opts);
  const featNames = Array.from({ length: LPIPS_LAYERS }, (_, l) => `feat_${l}`);
  const cache = new WeakMap<Float32Array, ort.Tensor[]>();
  const features = async (img: TargetImage): Promise<ort.Tensor[]> => {
    const hit = cache.get(img.data);
    if (hit) return hit;
    if (img.width < LPIPS_MIN_SIZE || img.height < LPIPS_MIN_SIZE)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `LPIPS needs images of at least ${LPIPS_MIN_SIZE}×${LPIPS_MIN_SIZE} (got ${img.width}×${img.height})`,
      );
    const x = Float32Array.from(img.data, (v) => (v + 1) / 2);
    const res = await feature.run({ input: floatTensor(x, [1, 3, img.height, img.width]) }, featNames);
    const out = featNames.map((n) => res[n]!);
    cache.set(img.data, out);
    return out;
  };
  return {
    async distance(a, b) {
      if (a.width !== b.width || a.height !== b.height)
        throw new EngineError('INVALID_ARGUMENT', `LPIPS compares images of one size (${a.width}×${a.height} vs ${b.width}×${b.height})`);
      const [fa, fb] = [await features(a), await features(b)];
      const feeds: Record<string, ort.Tensor> = {};
      fa.forEach((t, l) => (feeds[`feat_x_${l}`] = t));
      fb.forEach((t, l) => (feeds[`feat_y_${l}`] = t));
      const res = await diff.run(feeds, ['output']);
      return Number((res['output']!.data as Float32Array)[0]);
    },
    async release() {
      await feature.release();
      await diff.release();
    },
  };
}
