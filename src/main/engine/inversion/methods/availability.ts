/**
 * Which methods can run with a model set, from the files alone (nothing is loaded): what the
 * studio greys out, with methodUnavailable's reason, before anyone waits for models to load.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readShapesStamp } from '../../models/shapes/stamp.js';
import type { Captioner } from '../captioner.js';
import type { InversionModels } from '../inversion-models.js';
import { planOptionalModels } from '../optional-models.js';
import type { ClipTowers } from './clip-towers.js';
import { hasShapesClip, vitL14TowersInstalled } from './clip-towers.js';
import { methodUnavailable, type MethodContext } from './index.js';
import { METHOD_NAMES, type MethodName } from './types.js';

/** What the methods need that a model set folder and the cache have (files only). */
export interface MethodFiles {
  /** `<set>/vae_encoder/model.onnx` (PH2P encodes the target). */
  vaeEncoder: boolean;
  /** A CLIP with both towers: the set's world CLIP or CLIP ViT-L/14 in the cache (PEZ). */
  clip: boolean;
  /** A captioner: the set's own (one this build loads, or the shapes set's), or one in the cache (the caption baseline). */
  captioner: boolean;
}

export async function findMethodFiles(setDir: string, cacheDir: string): Promise<MethodFiles> {
  const plan = planOptionalModels({ cacheDir, modelSetDir: setDir, choices: { captioner: 'auto', clip: 'off', lm: 'off' } });
  const shapesCaptioner = existsSync(path.join(setDir, 'captioner', 'model.onnx')) && (await readShapesStamp(setDir)) !== undefined;
  return {
    vaeEncoder: existsSync(path.join(setDir, 'vae_encoder', 'model.onnx')),
    clip: hasShapesClip(setDir) || vitL14TowersInstalled(cacheDir),
    captioner: plan.captioner !== undefined || shapesCaptioner,
  };
}

/**
 * Why each method cannot run with these files (methodUnavailable's words), undefined where it can.
 * The context stands in for the loaded models by presence only: methodUnavailable looks at which
 * models are there, never into them.
 */
export function methodsAvailable(files: MethodFiles): Record<MethodName, string | undefined> {
  const present = {};
  const ctx: MethodContext = {
    models: { ...(files.vaeEncoder ? { encodeLatent: present } : {}) } as unknown as InversionModels,
    ...(files.clip ? { clip: present as ClipTowers } : {}),
    ...(files.captioner ? { captioner: present as Captioner } : {}),
  };
  return Object.fromEntries(METHOD_NAMES.map((m) => [m, methodUnavailable(m, ctx)])) as Record<MethodName, string | undefined>;
}
