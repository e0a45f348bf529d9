/**
 * The source of an edit from an image file's PNG chunks: our own generation record (the
 * `inversion-studio` JSON chunk: every setting, bit-exact) or the A1111 `parameters` text other
 * tools write (prompt, seed, steps, sampler, CFG scale, size, model).
 */
import { isSchedulerName, type SchedulerName } from '../../diffusion/schedulers/index.js';
import type { GenerationRecord } from '../../diffusion/pipeline.js';
import { A1111_SAMPLER_LABELS, parseA1111 } from '../../image/a1111.js';
import { readPngMetadata } from '../../image/image-io.js';
import { isPng } from '../../image/png-chunks.js';
import type { EditSource } from './plan.js';

/** What an image says about how it was made; fields it does not say are absent. */
export interface SourceParameters {
  params: Partial<Omit<EditSource, 'image' | 'embedding'>>;
  /** 'record': our JSON chunk; 'a1111': only the A1111 text; 'none': neither. */
  from: 'record' | 'a1111' | 'none';
  /** Our record said the conditioning was an embedding (not in the file): the prompt alone will not reproduce it. */
  embeddingConditioned?: boolean;
  /** The image is itself an edit (its record has an `edit` entry). */
  isEdit?: boolean;
}

function isRecord(j: unknown): j is GenerationRecord {
  const r = j as Partial<GenerationRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.app === 'inversion-studio' &&
    typeof r.prompt === 'string' &&
    typeof r.seed === 'number' &&
    typeof r.steps === 'number' &&
    typeof r.scheduler === 'string' &&
    isSchedulerName(r.scheduler) &&
    typeof r.guidance === 'number' &&
    typeof r.width === 'number' &&
    typeof r.height === 'number' &&
    typeof r.model === 'string'
  );
}

/** A1111 sampler label -> our scheduler name ('Euler' is ours 'euler'; unknown labels give undefined). */
export function schedulerFromLabel(label: string): SchedulerName | undefined {
  const l = label.trim().toLowerCase();
  if (isSchedulerName(l)) return l;
  for (const [name, lab] of Object.entries(A1111_SAMPLER_LABELS)) if (lab.toLowerCase() === l && isSchedulerName(name)) return name;
  return undefined;
}

/** The generation parameters an image file carries (nothing for non-PNG bytes or PNGs without them). */
export function sourceParameters(bytes: Uint8Array): SourceParameters {
  if (!isPng(bytes)) return { params: {}, from: 'none' };
  let meta;
  try {
    meta = readPngMetadata(bytes);
  } catch {
    return { params: {}, from: 'none' };
  }
  if (isRecord(meta.json)) {
    const r = meta.json;
    return {
      params: {
        prompt: r.prompt,
        negativePrompt: r.negativePrompt ?? '',
        seed: r.seed,
        steps: r.steps,
        scheduler: r.scheduler,
        guidance: r.guidance,
        width: r.width,
        height: r.height,
        model: r.model,
        kind: 'generation',
      },
      from: 'record',
      ...(r.conditioning === 'embedding' ? { embeddingConditioned: true } : {}),
      ...((meta.json as { edit?: unknown }).edit !== undefined ? { isEdit: true } : {}),
    };
  }
  if (meta.parameters === undefined) return { params: {}, from: 'none' };
  const p = parseA1111(meta.parameters);
  const params: SourceParameters['params'] = {};
  if (p.prompt.trim()) params.prompt = p.prompt;
  if (p.negativePrompt !== undefined) params.negativePrompt = p.negativePrompt;
  if (p.seed !== undefined && Number.isSafeInteger(p.seed) && p.seed >= 0) params.seed = p.seed;
  if (p.steps !== undefined && Number.isInteger(p.steps)) params.steps = p.steps;
  const sched = p.sampler !== undefined ? schedulerFromLabel(p.sampler) : undefined;
  if (sched) params.scheduler = sched;
  if (p.cfgScale !== undefined) params.guidance = p.cfgScale;
  if (p.width !== undefined && p.height !== undefined) {
    params.width = p.width;
    params.height = p.height;
  }
  return { params, from: 'a1111' };
}
