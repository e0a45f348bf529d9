/**
 * The shapes model set's own helpers for an evaluation, read from their documented files when
 * this build registers no loader for them (model-set-helpers.ts's HELPER_FORMATS; the set's code
 * adds its own, which are preferred): the captioner (`captioner/model.onnx`, decoded with the
 * reference `decodeCaptionerLogits`) and the world's language model (the n-gram LM, counted in
 * memory from the training split with its default options when the set ships no `lm/`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { LanguageModel } from '../e2t/language-model.js';
import { EngineError } from '../errors.js';
import { hwcBytesToChw } from '../image/image-io.js';
import type { Captioner } from '../inversion/captioner.js';
import { resizeChw } from '../inversion/methods/clip-towers.js';
import { decodeCaptionerLogits } from '../models/shapes/captioner.js';
import { createShapesLm, trainShapesLm } from '../models/shapes/lm/index.js';
import { sessionOptions } from '../runtime/session.js';
import { floatTensor, tensorToFloat32 } from '../runtime/tensors.js';

/** The world captioner of a shapes set folder. @throws EngineError('NOT_INSTALLED') without `captioner/model.onnx` */
export async function loadShapesCaptioner(setDir: string): Promise<Captioner> {
  const file = path.join(setDir, 'captioner', 'model.onnx');
  if (!existsSync(file)) throw new EngineError('NOT_INSTALLED', `the model set ${setDir} has no captioner (captioner/model.onnx)`);
  const session = await ort.InferenceSession.create(file, sessionOptions('cpu'));
  return {
    name: 'shapes-captioner',
    async caption(image) {
      const x = resizeChw({ data: hwcBytesToChw(image.data, image.width, image.height), width: image.width, height: image.height }, 64, 64);
      const res = await session.run({ pixel_values: floatTensor(x.data, [1, 3, 64, 64]) }, ['logits']);
      return decodeCaptionerLogits(tensorToFloat32(res['logits']!)).prompt;
    },
  };
}

/** The world's language model with its default options (deterministic: counted from the training split). */
export function worldLanguageModel(): LanguageModel {
  return createShapesLm(trainShapesLm());
}
