/**
 * The `edit` job: edit an image by editing its prompt (docs/editing.md, "Studio"). The source is
 * a library item or an uploaded PNG; the edit runs on the model set the source was made with,
 * from its seed and settings (editSource says which prompt and which settings each source has),
 * and is saved in the library as a generation of the edited prompt that records its source
 * (`editOf`) and the edit (`edit`: diff, mode, report, and the before image stored with it).
 * A cancelled edit keeps nothing.
 */
import { EngineError } from '../../engine/errors.js';
import { sourceParameters } from '../../engine/concepts/edit/index.js';
import { toUprightPng } from '../../engine/image/image-io.js';
import { isPng, pngDimensions } from '../../engine/image/png-chunks.js';
import { presetSettings } from '../../engine/inversion/presets.js';
import type { EditSourceSummary } from '../../../shared/ipc/edit.js';
import type { ItemEdit, LibraryItem } from '../../../shared/ipc/library.js';
import { CLIP_CONTEXT_LENGTH, MAX_MESSAGE_TEXT_CHARS, MAX_PROMPT_CHARS } from '../../../shared/ipc/limits.js';
import { EditRequestSchema } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import type { EditOutput, EditSpec } from '../engine-adapter.js';
import { newItemId } from '../library.js';
import { readImageInput, type ResolvedImage } from './image-input.js';
import type { JobKind } from './job-kind.js';

/** What an edit request edits: the source's prompt and settings, the model set, and the library item it links to. */
export interface EditSourcePlan {
  source: EditSpec['source'];
  modelSet: string;
  /** What the source is, as the library records it. */
  kind: EditSourceSummary['kind'];
  /** The library item the edit is linked to (absent for an upload). */
  editOf?: string;
  /** Said before the engine runs (e.g. "the source is itself an edit"). */
  notes: string[];
}

const imageSize = (bytes: Uint8Array): { width: number; height: number } | undefined => {
  if (!isPng(bytes)) return undefined;
  try {
    return pngDimensions(bytes);
  } catch {
    return undefined;
  }
};

/**
 * The source of an edit request, from the image it names:
 * - a library generation: its prompt, seed and settings (an edit's own `sourceFile`: that edit's source);
 * - an inversion: the prompt of the image named (its best candidate's for the item's image, a
 *   candidate's for that candidate's file), rendered as the inversion ranked it: the preset's
 *   ranking steps, scheduler and guidance, seed 0, no negative prompt, at the image's size;
 * - an upload: the parameters its PNG carries (our record, else the A1111 text); settings it does
 *   not say take the model set's defaults, its model set the record's, else settings.modelSet.
 * @throws EngineError('INVALID_ARGUMENT') for an inversion's target (not a generation) and for
 *   an upload without a prompt and a seed
 */
export function editSource(src: ResolvedImage, settings: Settings): EditSourcePlan {
  const { item, file, bytes } = src;
  if (!item || !file) return uploadSource(bytes, settings);
  if (item.kind === 'generation') {
    const before = item.edit && file === item.edit.sourceFile ? item.edit.source : undefined;
    if (before)
      return {
        source: { ...sourceSettings(before), kind: before.kind === 'inversion' ? 'inversion' : 'generation', image: bytes },
        modelSet: before.model,
        kind: before.kind,
        ...(item.editOf ? { editOf: item.editOf } : {}),
        notes: [],
      };
    const p = item.params;
    return {
      source: { ...sourceSettings(p), kind: 'generation', image: bytes },
      modelSet: p.model,
      kind: 'generation',
      editOf: item.id,
      notes: item.edit ? ['the source is itself an edit: this edit starts from a regeneration of its prompt'] : [],
    };
  }
  const inv = item.inversion;
  if (file === inv.targetFile)
    throw new EngineError(
      'INVALID_ARGUMENT',
      "an inversion's target is the image that was inverted, not a generation the engine can sample again: edit the inversion's result (its image or a candidate's)",
    );
  // The item's own image is its best candidate's regeneration (the first one kept as a file).
  const candidate = file === item.file ? inv.candidates.find((c) => c.file) : inv.candidates.find((c) => c.file === file);
  const rank = presetSettings(inv.preset);
  const size = imageSize(bytes) ?? { width: item.width, height: item.height };
  return {
    source: {
      prompt: candidate?.prompt ?? inv.prompt,
      negativePrompt: '',
      seed: rank.seed,
      steps: rank.rankSteps,
      scheduler: rank.scheduler,
      guidance: rank.guidance,
      ...size,
      kind: 'inversion',
      image: bytes,
    },
    modelSet: inv.model,
    kind: 'inversion',
    editOf: item.id,
    notes: [],
  };
}

function sourceSettings(p: Omit<EditSourceSummary, 'kind' | 'model'>): Omit<EditSpec['source'], 'kind' | 'image'> {
  return {
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    seed: p.seed,
    steps: p.steps,
    scheduler: p.scheduler,
    guidance: p.guidance,
    width: p.width,
    height: p.height,
  };
}

function uploadSource(bytes: Buffer, settings: Settings): EditSourcePlan {
  const found = sourceParameters(bytes);
  const p = found.params;
  if (p.prompt === undefined || p.seed === undefined) {
    const what = found.from === 'none' ? 'carries no generation parameters' : 'does not say its prompt and seed';
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the image ${what}: an edit samples the source again from its prompt and seed. Edit an image from the library, ` +
        'a PNG made by Inversion Studio or A1111, or invert this image first and edit the result',
    );
  }
  const size = p.width !== undefined && p.height !== undefined ? { width: p.width, height: p.height } : imageSize(bytes);
  const notes: string[] = [];
  if (found.embeddingConditioned)
    notes.push(
      'the source was rendered from an embedding its PNG does not carry: editing its recorded prompt (the regeneration will differ)',
    );
  if (found.isEdit) notes.push('the source is itself an edit: this edit starts from a regeneration of its prompt');
  return {
    source: {
      prompt: p.prompt,
      negativePrompt: p.negativePrompt ?? '',
      seed: p.seed,
      ...(p.steps !== undefined ? { steps: p.steps } : {}),
      ...(p.scheduler !== undefined ? { scheduler: p.scheduler } : {}),
      ...(p.guidance !== undefined ? { guidance: p.guidance } : {}),
      ...(size ? size : {}),
      kind: 'generation',
      image: bytes,
    },
    modelSet: p.model ?? settings.modelSet,
    kind: 'upload',
    notes,
  };
}

interface Edited {
  plan: EditSourcePlan;
  out: EditOutput;
  /** The source image as given (stored with the edit). */
  image: Buffer;
  seconds: number;
}

const text = (s: string, max = MAX_MESSAGE_TEXT_CHARS): string => s.slice(0, max);

export const editJob: JobKind<'edit', Edited> = {
  type: 'edit',
  schema: EditRequestSchema,

  async run(req, opts, { engine, library, settings }) {
    const src = await readImageInput(req.source, library);
    const plan = editSource(src, settings);
    const t0 = performance.now();
    const out = await engine.edit(
      {
        source: plan.source,
        modelSet: plan.modelSet,
        prompt: req.prompt,
        ...(req.mode ? { mode: req.mode } : {}),
        ...(req.crossSteps !== undefined ? { crossSteps: req.crossSteps } : {}),
        ...(req.selfSteps !== undefined ? { selfSteps: req.selfSteps } : {}),
        ...(req.blend ? { blend: req.blend } : {}),
        ...(req.suppress ? { suppress: true } : {}),
      },
      opts,
    );
    const seconds = (performance.now() - t0) / 1000;
    opts.onProgress({ phase: 'saving', step: 0, total: 1 });
    return { plan, out, image: src.bytes, seconds };
  },

  async finish(req, { plan, out, image, seconds }, { library, emit }) {
    const id = newItemId();
    const before = isPng(image) ? image : (await toUprightPng(image)).png;
    const sourceFile = await library.writeFile(`${id}-source`, 'png', before);
    const s = plan.source;
    const p = out.params;
    const diff = {
      summary: text(out.summary),
      edits: out.edits.slice(0, 2 * CLIP_CONTEXT_LENGTH).map((e) => ({
        ...e,
        source: e.source.slice(0, MAX_PROMPT_CHARS),
        edited: e.edited.slice(0, MAX_PROMPT_CHARS),
      })),
    };
    const edit: ItemEdit = {
      source: {
        kind: plan.kind,
        prompt: s.prompt,
        negativePrompt: s.negativePrompt,
        seed: s.seed,
        steps: p.steps,
        scheduler: p.scheduler,
        guidance: p.guidance,
        width: p.width,
        height: p.height,
        model: plan.modelSet,
      },
      mode: out.mode,
      requestedMode: req.mode ?? 'auto',
      modeReason: text(out.modeReason),
      diff,
      crossSteps: out.crossSteps,
      selfSteps: out.selfSteps,
      ...(out.blend ? { blend: out.blend } : {}),
      ...(out.suppress ? { suppress: true } : {}),
      report: out.report,
      ...(out.sourceReproduced !== undefined ? { sourceReproduced: out.sourceReproduced } : {}),
      sourceFile,
    };
    const item: LibraryItem = await library.add(
      {
        kind: 'generation',
        id,
        createdAt: new Date().toISOString(),
        file: `${id}.png`,
        width: out.width,
        height: out.height,
        params: {
          prompt: req.prompt,
          negativePrompt: s.negativePrompt,
          seed: s.seed,
          steps: p.steps,
          scheduler: p.scheduler,
          guidance: p.guidance,
          width: p.width,
          height: p.height,
          model: plan.modelSet,
        },
        ...(plan.editOf ? { editOf: plan.editOf } : {}),
        edit,
      },
      out.png,
    );
    emit({ type: 'library.changed', change: 'added', item });
    const words = (w: string[]) => w.slice(0, CLIP_CONTEXT_LENGTH).map((x) => x.slice(0, 256));
    return {
      kind: 'edit',
      item,
      sourceFile,
      diff,
      mode: out.mode,
      modeReason: edit.modeReason,
      mask: {
        width: out.mask.width,
        height: out.mask.height,
        data: Buffer.from(out.mask.data).toString('base64'),
        words: { source: words(out.mask.words.source), edited: words(out.mask.words.edited) },
      },
      report: out.report,
      seconds,
      warnings: [...plan.notes, ...out.warnings].slice(0, 32).map((w) => text(w)),
    };
  },
};
