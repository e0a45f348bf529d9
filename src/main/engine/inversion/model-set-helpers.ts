/**
 * Optional models a model set brings itself: a model set trained for one world (the shapes set)
 * ships its own captioner, CLIP-style ranking towers and language model, which suit it better
 * than the general ones in the cache. They live in the set's folder:
 *
 *   <model set>/captioner/config.json   { "model": "<format>", ... }, plus the files that format reads
 *   <model set>/clip/config.json
 *   <model set>/lm/config.json
 *
 * `model` names a loader in HELPER_FORMATS (e.g. 'shapes-captioner', 'shapes-clip'); a set's code
 * adds its loaders there. The resolver (optional-models.ts) prefers these over the cache's models
 * for that set.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LanguageModel } from '../e2t/language-model.js';
import type { Captioner } from './captioner.js';
import type { ImageScorer } from './invert.js';

/** The optional models of an inversion, by role: start-text captioner, candidate ranking, decoder language model. */
export type HelperRole = 'captioner' | 'clip' | 'lm';
export const HELPER_ROLES: readonly HelperRole[] = ['captioner', 'clip', 'lm'];

/** A ranking model that holds sessions until released. */
export type ReleasableScorer = ImageScorer & { release(): Promise<void> };

export interface HelperLoadOptions {
  /** onnxruntime / transformers.js device. */
  device?: string;
}

/** What each role's loader returns. */
export interface HelperOf {
  captioner: Captioner;
  clip: ReleasableScorer;
  lm: LanguageModel;
}

export type HelperLoader<R extends HelperRole> = (dir: string, o: HelperLoadOptions) => Promise<HelperOf[R]>;

/** Loaders by role and format name. */
export type HelperFormats = { [R in HelperRole]: Readonly<Record<string, HelperLoader<R>>> };

/** The formats this build reads, by the `model` of a helper's config.json (none yet: the shapes set adds its own). */
export const HELPER_FORMATS: HelperFormats = { captioner: {}, clip: {}, lm: {} };

export const HELPER_CONFIG = 'config.json';

/** A helper folder of a model set and the format its config.json names. */
export interface OwnHelper {
  dir: string;
  format: string;
}

/**
 * The helper folder for `role` in `modelSetDir`, when there is one: `<dir>/<role>/config.json`
 * with a string `model`. A folder whose config.json is not readable counts as absent, with a
 * reason (the inversion then uses the cache's model).
 */
export function findOwnHelper(modelSetDir: string, role: HelperRole): { helper?: OwnHelper; problem?: string } {
  const dir = path.join(modelSetDir, role);
  const config = path.join(dir, HELPER_CONFIG);
  if (!existsSync(config)) return {};
  try {
    const format = (JSON.parse(readFileSync(config, 'utf8')) as { model?: unknown }).model;
    if (typeof format === 'string' && format) return { helper: { dir, format } };
    return { problem: `${config} names no "model" (the format of the ${role})` };
  } catch (e) {
    return { problem: `${config} is not readable JSON (${(e as Error).message})` };
  }
}
