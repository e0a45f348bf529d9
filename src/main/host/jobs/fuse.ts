/**
 * The `fuse` job (docs/fusion-evolution.md, "Studio"): two or more parents — library images, each
 * by the prompt it records (a generation's, an inversion's answer, a candidate's) unless asked to
 * invert it, or typed prompts — fused in one mode or a grid of modes × weights, on one model set
 * (the request's, else the settings'). The fused image is saved in the library as a generation
 * whose `fusion` record names its parents (with their library ids). A cancelled fusion keeps nothing.
 */
import { CLIP_CONTEXT_LENGTH, MAX_MESSAGE_TEXT_CHARS, MAX_NAME_CHARS } from '../../../shared/ipc/limits.js';
import { FuseRequestSchema, type FuseRequest } from '../../../shared/ipc/fusion.js';
import type { ItemFusion } from '../../../shared/ipc/fusion-record.js';
import type { LibraryItem } from '../../../shared/ipc/library.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import { NotAvailableError, type FuseOutput, type FuseSpec } from '../engine-adapter.js';
import { newItemId } from '../library.js';
import { readImageInput } from './image-input.js';
import type { JobKind } from './job-kind.js';

/**
 * The prompt a library image was made from and its model set: a generation's own (an edit's
 * before image: its source's), an inversion's answer (its target and best image: the answer; a
 * candidate's image: that candidate's prompt). Undefined when there is none to use.
 */
export function recordedPrompt(item: LibraryItem, file: string): { prompt: string; model: string } | undefined {
  if (item.kind === 'generation') {
    if (item.edit && file === item.edit.sourceFile) return { prompt: item.edit.source.prompt, model: item.edit.source.model };
    return item.params.prompt.trim() ? { prompt: item.params.prompt, model: item.params.model } : undefined;
  }
  const inv = item.inversion;
  const candidate = file === item.file || file === inv.targetFile ? undefined : inv.candidates.find((c) => c.file === file);
  const prompt = candidate?.prompt ?? inv.prompt;
  return prompt.trim() ? { prompt, model: inv.model } : undefined;
}

/** The fusion a request asks for, its library parents read; fields left out take the settings' generation defaults. */
export async function fuseSpec(
  req: FuseRequest,
  settings: Settings,
  read: (p: Extract<FuseRequest['parents'][number], { kind: 'library' }>) => Promise<{ bytes: Buffer; item: LibraryItem; file: string }>,
): Promise<{ spec: FuseSpec; items: (string | undefined)[] }> {
  const d = settings.defaults.generate;
  const parents: FuseSpec['parents'] = [];
  const items: (string | undefined)[] = [];
  for (const p of req.parents) {
    if (p.kind === 'prompt') {
      parents.push({ kind: 'prompt', text: p.text });
      items.push(undefined);
      continue;
    }
    const src = await read(p);
    const recorded = recordedPrompt(src.item, src.file);
    parents.push({
      kind: 'image',
      image: src.bytes,
      ...(recorded ? { recorded } : {}),
      ...(p.reinvert ? { reinvert: true } : {}),
      ...(src.item.title ? { label: src.item.title.slice(0, MAX_NAME_CHARS) } : {}),
    });
    items.push(src.item.id);
  }
  const pick = <K extends 'steps' | 'scheduler' | 'guidance' | 'width' | 'height'>(k: K) =>
    req[k] !== undefined ? { [k]: req[k] } : d[k] !== undefined ? { [k]: d[k] } : {};
  const spec: FuseSpec = {
    modelSet: req.modelSet ?? settings.modelSet,
    parents,
    ...(req.mode ? { mode: req.mode } : {}),
    ...(req.weights ? { weights: req.weights } : {}),
    ...(req.grid ? { grid: { ...req.grid } } : {}),
    seed: req.seed ?? d.seed,
    ...pick('steps'),
    ...pick('scheduler'),
    ...pick('guidance'),
    ...pick('width'),
    ...pick('height'),
    negativePrompt: req.negativePrompt ?? d.negativePrompt,
    ...(req.connective ? { connective: req.connective } : {}),
    ...(req.keepWords?.length ? { keepWords: req.keepWords.slice(0, CLIP_CONTEXT_LENGTH) } : {}),
    ...(req.interpolation ? { interpolation: req.interpolation } : {}),
    ...(req.regions ? { regions: req.regions } : {}),
  };
  return { spec, items };
}

interface Fused {
  spec: FuseSpec;
  items: (string | undefined)[];
  out: FuseOutput;
  seconds: number;
}

export const fuseJob: JobKind<'fuse', Fused> = {
  type: 'fuse',
  schema: FuseRequestSchema,

  async run(req, opts, { engine, library, settings }) {
    if (!engine.fuse) throw new NotAvailableError('fusion');
    const { spec, items } = await fuseSpec(req, settings, async (p) => {
      const src = await readImageInput({ source: 'library', id: p.id, ...(p.file ? { file: p.file } : {}) }, library);
      return { bytes: src.bytes, item: src.item!, file: src.file! };
    });
    const t0 = performance.now();
    const out = await engine.fuse(spec, opts);
    const seconds = (performance.now() - t0) / 1000;
    opts.onProgress({ phase: 'saving', step: 0, total: 1 });
    return { spec, items, out, seconds };
  },

  async finish(_req, { spec, items, out, seconds }, { library, emit }) {
    const id = newItemId();
    const fusion: ItemFusion = {
      ...out.fusion,
      parents: out.fusion.parents.map((p, i) => ({ ...p, ...(items[i] ? { item: items[i] } : {}) })),
    };
    const item = await library.add(
      {
        kind: 'generation',
        id,
        createdAt: new Date().toISOString(),
        file: `${id}.png`,
        width: out.width,
        height: out.height,
        params: {
          prompt: fusion.prompt,
          negativePrompt: spec.negativePrompt ?? '',
          seed: spec.seed,
          steps: out.params.steps,
          scheduler: out.params.scheduler,
          guidance: out.params.guidance,
          width: out.params.width,
          height: out.params.height,
          model: out.params.model || spec.modelSet,
        },
        fusion,
      },
      out.png,
    );
    emit({ type: 'library.changed', change: 'added', item });
    return { kind: 'fuse', item, seconds, warnings: out.warnings.slice(0, 32).map((w) => w.slice(0, MAX_MESSAGE_TEXT_CHARS)) };
  },
};
