/**
 * The caption baseline (the paper's Table 5): the captioner's text of the target is the answer,
 * with nothing optimised. It shows what EDITOR's refinement adds to its own start text.
 */
import { chwToRgbBytes } from '../../image/image-io.js';
import { captionWith, type Captioner } from '../captioner.js';
import type { InvertProgress, TargetImage } from '../invert.js';
import type { MethodResult } from './types.js';

export async function invertCaption(
  captioner: Captioner,
  target: TargetImage,
  o: { signal?: AbortSignal; onProgress?: (e: InvertProgress) => void } = {},
): Promise<MethodResult> {
  const started = performance.now();
  o.onProgress?.({ phase: 'captioning' });
  const rgb = { data: chwToRgbBytes(target.data, target.width, target.height), width: target.width, height: target.height };
  const text = await captionWith(captioner, rgb, o.signal);
  o.onProgress?.({ phase: 'done' });
  return {
    method: 'caption',
    initialPrompt: text,
    prompt: text,
    candidates: [{ prompt: text, score: 0, iteration: 0, loss: 0, e2tDistance: 0 }],
    loss: [],
    iterations: 0,
    seconds: (performance.now() - started) / 1000,
    objective: 'none',
    rankedBy: 'none',
    width: target.width,
    height: target.height,
  };
}
