/**
 * The `_inversion_studio` stamp of the shapes set's model_index.json: what the loader reads for
 * the generation defaults and the size multiple, and a record of how the set was trained.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SchedulerName } from '../../diffusion/schedulers/index.js';

/** Name of the set in the cache and on the command line (`--models shapes`). */
export const SHAPES_MODEL_ID = 'shapes';
/** Bump when the layout of the written set changes. */
export const SHAPES_GENERATOR_VERSION = 1;

export interface ShapesStamp {
  generator: 'shapes';
  version: number;
  name: string;
  defaults: { width: number; height: number; steps: number; guidance: number; scheduler: SchedulerName };
  /** Image sides must be multiples of this (8 x 2 per UNet downsampling). */
  sizeMultiple: number;
  nativeSize: number;
  /** The extra components' config files, relative to the set folder. */
  components: Record<string, string>;
  /** How it was trained: configuration, steps, wall times, measured accuracies. */
  training: Record<string, unknown>;
}

/** The shapes stamp of a model folder, if it holds one. */
export async function readShapesStamp(dir: string): Promise<ShapesStamp | undefined> {
  try {
    const idx = JSON.parse(await readFile(path.join(dir, 'model_index.json'), 'utf8')) as { _inversion_studio?: ShapesStamp };
    const s = idx._inversion_studio;
    return s && s.generator === 'shapes' ? s : undefined;
  } catch {
    return undefined;
  }
}
