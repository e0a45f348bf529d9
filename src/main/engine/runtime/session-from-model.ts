/**
 * Open an in-memory (edited) model in onnxruntime: bytes when it is self-contained, a
 * temporary file otherwise (under the cache's tmp/ with hard links of its external weights, or
 * next to them; see serializeForSession), removed once the session exists.
 */
import * as ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir.js';
import { serializeForSession } from '../onnx/model-io.js';
import { sessionOptions } from './session.js';

/** @param options default: the engine's CPU session options (runtime/session.ts) */
export async function sessionFromModel(
  model: Model,
  options: ort.InferenceSession.SessionOptions = sessionOptions('cpu'),
): Promise<ort.InferenceSession> {
  const file = await serializeForSession(model);
  try {
    return file.path !== undefined
      ? await ort.InferenceSession.create(file.path, options)
      : await ort.InferenceSession.create(file.bytes!, options);
  } finally {
    await file.dispose();
  }
}
