/**
 * Fusion parents -> prompts and embeddings on the fusion's model set. Prompts are encoded as
 * generation encodes them (emphasis syntax applied); images use their recorded prompt (a library
 * item) or are inverted on the fly with EDITOR; embeddings must come from the same model set.
 */
import { EngineError, throwIfAborted } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import { encodeWeightedPrompt } from '../../diffusion/prompt-weights.js';
import { inversionModelsFromSet } from '../../inversion/from-model-set.js';
import { invert } from '../../inversion/invert.js';
import type { InversionModels } from '../../inversion/inversion-models.js';
import { presetSettings } from '../../inversion/presets.js';
import type { FuseProgress, FusionInvertOptions, FusionParent, ResolvedParent } from './types.js';

/** A short label for messages: "A", "B", … */
export function parentLetter(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `P${i + 1}`;
}

/**
 * Checks what can be checked without running a model: at least two parents, non-empty prompts,
 * embeddings of this model set's size and name, recorded prompts from this model set.
 * @throws EngineError('INVALID_ARGUMENT') saying which parent and what to do
 */
export function checkParents(ms: ModelSet, parents: readonly FusionParent[]): void {
  if (parents.length < 2)
    throw new EngineError(
      'INVALID_ARGUMENT',
      parents.length === 0
        ? 'a fusion needs at least two parents (images or prompts)'
        : 'a fusion needs at least two parents; only one was given (add another image or prompt)',
    );
  if (parents.length > 16) throw new EngineError('INVALID_ARGUMENT', `at most 16 parents can be fused (got ${parents.length})`);
  const n = ms.io.sequenceLength * ms.io.hiddenSize;
  parents.forEach((p, i) => {
    const name = p.label ? `parent ${parentLetter(i)} (${p.label})` : `parent ${parentLetter(i)}`;
    if (p.kind === 'prompt' && p.text.trim() === '') throw new EngineError('INVALID_ARGUMENT', `${name} is an empty prompt`);
    if (p.kind === 'embedding') {
      if (p.model !== ms.name)
        throw new EngineError(
          'INVALID_ARGUMENT',
          `${name} is an embedding of model set '${p.model}', but this fusion runs on '${ms.name}': embeddings of different model sets cannot be mixed. ` +
            `Fuse on '${p.model}', or give that parent as a prompt or an image.`,
        );
      if (p.embedding.length !== n)
        throw new EngineError('SHAPE_MISMATCH', `${name} has ${p.embedding.length} values; model set ${ms.name} needs ${n}`);
    }
    if (p.kind === 'image' && p.recorded && !p.reinvert && p.recorded.model !== ms.name)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `${name} was made with model set '${p.recorded.model}', but this fusion runs on '${ms.name}'. ` +
          `Fuse on '${p.recorded.model}', or invert the image on '${ms.name}' (reinvert / --invert).`,
      );
  });
}

/**
 * Resolve every parent (inverting image parents that carry no usable prompt, in order).
 * @throws EngineError from checkParents; the inversion's errors; CancelledError
 */
export async function resolveParents(
  ms: ModelSet,
  parents: readonly FusionParent[],
  o: { invert?: FusionInvertOptions; signal?: AbortSignal; onProgress?: (e: FuseProgress) => void } = {},
): Promise<ResolvedParent[]> {
  checkParents(ms, parents);
  let models: InversionModels | undefined;
  const out: ResolvedParent[] = [];
  for (const [i, p] of parents.entries()) {
    throwIfAborted(o.signal);
    const label = p.label ?? parentLetter(i);
    if (p.kind === 'embedding') {
      out.push({
        label,
        prompt: p.text ?? '',
        embedding: p.embedding,
        length: p.length ?? ms.io.sequenceLength,
        source: 'embedding',
      });
      continue;
    }
    let prompt: string;
    let source: ResolvedParent['source'];
    if (p.kind === 'prompt') {
      prompt = p.text;
      source = 'prompt';
    } else if (p.recorded && !p.reinvert && p.recorded.prompt.trim() !== '') {
      prompt = p.recorded.prompt;
      source = 'recorded';
    } else {
      models ??= await inversionModelsFromSet(ms);
      const settings = o.invert?.settings ?? presetSettings('fast', { previewEvery: 0 });
      o.onProgress?.({ phase: 'invert', index: i, total: parents.length, message: label });
      const r = await invert(
        models,
        { data: p.image.data, width: p.image.width, height: p.image.height },
        {
          settings,
          init: o.invert?.init ?? { kind: 'random' },
          ...(o.invert?.scorer ? { scorer: o.invert.scorer } : {}),
          ...(o.invert?.lm ? { lm: o.invert.lm } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          onProgress: (e) =>
            o.onProgress?.({ phase: 'invert', index: i, total: parents.length, step: e.iteration, steps: e.total, message: e.phase }),
        },
      );
      throwIfAborted(o.signal);
      prompt = r.prompt;
      source = 'inverted';
    }
    const enc = await encodeWeightedPrompt(ms, prompt);
    out.push({ label, prompt, embedding: enc.embedding, length: enc.length, source, ...(p.kind === 'image' ? { image: p.image } : {}) });
  }
  return out;
}
