/**
 * Lazy access to transformers.js (@huggingface/transformers), configured for a desktop app:
 * models live in our cache folder (never inside the installed package), remote downloads are
 * off in offline mode, and nothing is imported until a captioner or language model is used
 * (the library is large and pulls in onnxruntime).
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { EngineError } from '../errors.js';

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
  // env.localModelPath is left alone: a folder of ours is always loaded by its absolute path
  // (HubModelRef.dir), which transformers.js reads as is; a hub id is only passed online when no
  // folder was found, and is then downloaded into env.cacheDir.
  t.env.cacheDir = path.join(opts.cacheDir, '.transformers-cache');
  t.env.allowLocalModels = true;
  t.env.allowRemoteModels = !opts.offline;
  return t;
}

export interface HubModelRef {
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
    if (existsSync(path.join(dir, 'config.json'))) return { dir };
  }
  const dir = path.join(cacheDir, ...repo.split('/'));
  if (existsSync(path.join(dir, 'config.json'))) return { dir };
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

/**
 * The entries of `files` (paths relative to `dir`) that do not exist. An array entry is a set of
 * alternatives, missing when none exists and reported as `a (or b)`.
 */
export function missingFiles(dir: string, files: readonly (string | readonly string[])[]): string[] {
  const exists = (f: string): boolean => existsSync(path.join(dir, ...f.split('/')));
  const missing: string[] = [];
  for (const f of files) {
    const choices = typeof f === 'string' ? [f] : f;
    if (!choices.some(exists)) missing.push(choices.length > 1 ? `${choices[0]} (or ${choices.slice(1).join(', or ')})` : choices[0]!);
  }
  return missing;
}

/** A hub model a loader reads through transformers.js (see loadHubModel). */
export interface HubModelSpec {
  /** What the model is, to start error messages: 'the fluency language model', 'CLIP ViT-L/14'. */
  label: string;
  /** Hub id, `owner/name`. */
  repo: string;
  /** Its manifest id in models/ (`models download` writes `<cacheDir>/models/<id>/`), if it has one. */
  manifestId?: string;
  /** Files the loader reads, relative to the folder (an array entry: alternatives, one suffices). */
  files: readonly (string | readonly string[])[];
  /** How to install it; ends every error message. */
  installHint: string;
}

/**
 * Locate a hub model in the cache, check its files, and load it with `load`.
 *
 * The folder (either layout, see locateHubModel) is checked for `spec.files` before
 * transformers.js sees it, since transformers.js would remember a missing tokenizer file for the
 * rest of the process (see HubModelRef.dir); it is then loaded by its absolute path. With no
 * folder, online, `load` gets the hub id and transformers.js may download it.
 * @param load builds the model from `id` (pass it to from_pretrained / pipeline); `dir` is the
 *   folder, undefined when loading by hub id
 * @throws EngineError('NOT_INSTALLED') saying how to install it when there is no folder offline,
 *   when the folder lacks some of `spec.files`, or when `load` fails on the folder (errors of a
 *   hub-id load are passed on as they are)
 */
export async function loadHubModel<T>(
  opts: HfOptions,
  spec: HubModelSpec,
  load: (t: Transformers, id: string, dir: string | undefined) => Promise<T>,
): Promise<T> {
  const ref = locateHubModel(opts.cacheDir, spec.repo, spec.manifestId);
  if (!ref && (opts.offline ?? false)) {
    throw new EngineError('NOT_INSTALLED', `${spec.label} (${spec.repo}) is not installed in ${opts.cacheDir}. ${spec.installHint}`);
  }
  if (ref) {
    const missing = missingFiles(ref.dir, spec.files);
    if (missing.length)
      throw new EngineError(
        'NOT_INSTALLED',
        `${spec.label} in ${ref.dir} is incomplete (missing ${missing.join(', ')}). ${spec.installHint}`,
      );
  }
  const t = await loadTransformers(opts);
  try {
    return await load(t, ref?.dir ?? spec.repo, ref?.dir);
  } catch (e) {
    if (!ref) throw e;
    throw new EngineError(
      'NOT_INSTALLED',
      `${spec.label} in ${ref.dir} could not be loaded (${(e as Error).message}). ${spec.installHint}`,
      { cause: e },
    );
  }
}
