/**
 * Lazy access to transformers.js (@huggingface/transformers), configured for a desktop app:
 * models live in our cache folder (never inside the installed package), remote downloads are
 * off in offline mode, and nothing is imported until a captioner or language model is used
 * (the library is large and pulls in onnxruntime).
 */
import path from 'node:path';
import { existsSync } from 'node:fs';

export type Transformers = typeof import('@huggingface/transformers');

export interface HfOptions {
  /** Folder holding hub repos as `<cacheDir>/<owner>/<name>/...` (the layout `models download` writes). */
  cacheDir: string;
  offline?: boolean;
  /** onnxruntime device for transformers.js: cpu, cuda, dml, coreml, webgpu. */
  device?: string;
}

let loaded: Promise<Transformers> | undefined;

export async function loadTransformers(opts: HfOptions): Promise<Transformers> {
  loaded ??= import('@huggingface/transformers');
  const t = await loaded;
  t.env.localModelPath = opts.cacheDir;
  t.env.cacheDir = path.join(opts.cacheDir, '.transformers-cache');
  t.env.allowLocalModels = true;
  t.env.allowRemoteModels = !opts.offline;
  return t;
}

export interface HubModelRef {
  /** What to set `env.localModelPath` to, and the id to pass to `from_pretrained`. */
  localModelPath: string;
  modelId: string;
  /** The model's folder. */
  dir: string;
}

/**
 * Find a hub model in the cache in either layout: `<cacheDir>/models/<manifestId>/` (what
 * `inversion-studio models download <manifestId>` writes, files at their repo paths) or
 * `<cacheDir>/<owner>/<name>/` (a hub folder copied in). A folder counts when it has config.json.
 */
export function locateHubModel(cacheDir: string, repo: string, manifestId?: string): HubModelRef | undefined {
  if (manifestId) {
    const models = path.join(cacheDir, 'models');
    const dir = path.join(models, manifestId);
    if (existsSync(path.join(dir, 'config.json'))) return { localModelPath: models, modelId: manifestId, dir };
  }
  const dir = path.join(cacheDir, ...repo.split('/'));
  if (existsSync(path.join(dir, 'config.json'))) return { localModelPath: cacheDir, modelId: repo, dir };
  return undefined;
}
