/**
 * Inversion phase 1, the start text: the user's text, a caption of the target, or random words.
 */
import { EngineError } from '../errors.js';
import { chwToRgbBytes } from '../image/image-io.js';
import { captionImage, captionWith } from './captioner.js';
import type { InversionModels } from './inversion-models.js';
import type { InitSpec, InvertProgress, TargetImage } from './invert.js';
import { randomStartText } from './random-start.js';

/**
 * @param seed seeds the random start (the inversion's seed)
 * @throws EngineError for an empty start text, an empty caption, or a tokenizer with no whole words
 */
export async function startText(
  m: InversionModels,
  target: TargetImage,
  init: InitSpec,
  o: { seed: number; signal?: AbortSignal; emit: (e: InvertProgress) => void },
): Promise<string> {
  if (init.kind === 'text') {
    const text = init.text.trim();
    if (!text) throw new EngineError('INVALID_ARGUMENT', 'the initial text is empty');
    return text;
  }
  if (init.kind === 'caption') {
    o.emit({ phase: 'captioning' });
    const rgb = { data: chwToRgbBytes(target.data, target.width, target.height), width: target.width, height: target.height };
    if (init.instance) return captionWith(init.instance, rgb, o.signal);
    return captionImage(rgb, {
      cacheDir: init.cacheDir,
      ...(init.captioner ? { captioner: init.captioner } : {}),
      ...(init.offline !== undefined ? { offline: init.offline } : {}),
      ...(init.device ? { device: init.device } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  }
  const text = randomStartText(m.tokenizer, init.words ?? 8, o.seed);
  if (!text) throw new EngineError('INVALID_ARGUMENT', 'the tokenizer has no whole-word tokens to start from: give an initial text');
  return text;
}
