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
  /** The cache root holding the folder (the `env.localModelPath` for `modelId`). */
  localModelPath: string;
  /** The model's id inside `localModelPath`. */
  modelId: string;
  /**
   * The model's folder; pass it (absolute) to `from_pretrained`. transformers.js (4.3) memoises
   * for the whole process whether a repo has tokenizer_config.json, keyed by the model id alone,
   * not by `env.localModelPath`, and looks in its own download cache before the local folder. So
   * after one failed load of `Xenova/gpt2` from a folder without tokenizer files, loading
   * `Xenova/gpt2` from any other folder fails too ("reading 'tokenizer_class'"). A path is not
   * shared between folders and is never looked up in the download cache or online. (For the same
   * path, callers check the files first with `missingFiles`, so no miss is ever memoised.)
   */
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

/**
 * The ONNX decoder file a causal LM folder has, as a transformers.js `model_file_name` (no
 * suffix, no extension): `model` (what transformers.js v3+ loads by default) when present, else
 * `decoder_model_merged` (what the older Xenova exports, and our manifests, ship). Undefined
 * when neither is there.
 */
export function causalLmFileName(dir: string): 'model' | 'decoder_model_merged' | undefined {
  if (existsSync(path.join(dir, 'onnx', 'model.onnx'))) return 'model';
  if (existsSync(path.join(dir, 'onnx', 'decoder_model_merged.onnx'))) return 'decoder_model_merged';
  return undefined;
}

/** The entries of `files` (paths relative to `dir`) that do not exist. */
export function missingFiles(dir: string, files: readonly string[]): string[] {
  return files.filter((f) => !existsSync(path.join(dir, ...f.split('/'))));
}
