/**
 * The `invert` job: recover the prompt behind an image (uploaded, or from the library) and store
 * the inversion in the library: the target (re-encoded upright as PNG, scaled down so its shorter
 * side is at most the inversion size: docs/reliability.md), the candidates' regenerations, and the
 * best one as the item's image. A cancelled inversion stores its best result so far the same way,
 * marked partial.
 */
import { CancelledError } from '../../engine/errors.js';
import { toUprightPng } from '../../engine/image/image-io.js';
import { pngDimensions } from '../../engine/image/png-chunks.js';
import type { InversionRecord, LibraryItem } from '../../../shared/ipc/library.js';
import { MAX_CANDIDATES } from '../../../shared/ipc/limits.js';
import { InvertRequestSchema, type RequestOf } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import type { InvertOutput, InvertSpec } from '../engine-adapter.js';
import { newItemId } from '../library.js';
import { readImageInput } from './image-input.js';
import type { JobKind } from './job-kind.js';

/** Candidate regenerations stored as files (the rest keep their prompt and score only). */
const STORED_CANDIDATE_IMAGES = 32;

/** The inversion a request asks for: fields it leaves out take the settings' defaults. */
export function invertSpec(req: RequestOf<'invert'>, image: Uint8Array, settings: Settings): InvertSpec {
  const d = settings.defaults.invert;
  return {
    image,
    preset: req.preset ?? d.preset,
    objective: req.objective ?? d.objective,
    iterations: req.iterations ?? d.iterations,
    init: req.init,
    seed: req.seed ?? 0,
    modelSet: req.modelSet ?? settings.modelSet,
    ...(req.method && req.method !== 'editor' ? { method: req.method } : {}),
  };
}

interface Inverted {
  output: InvertOutput;
  /** The target as given (re-encoded when stored). */
  image: Buffer;
}

export const invertJob: JobKind<'invert', Inverted> = {
  type: 'invert',
  schema: InvertRequestSchema,
  keepsPartial: true,

  async run(req, opts, { engine, library, settings }) {
    const { bytes: image } = await readImageInput(req.image, library);
    let output: InvertOutput;
    try {
      output = await engine.invert(invertSpec(req, image, settings), opts);
    } catch (e) {
      // The engine's best result so far travels on as this kind's partial output.
      if (e instanceof CancelledError && e.partial) throw new CancelledError(e.message, { output: e.partial as InvertOutput, image });
      throw e;
    }
    opts.onProgress({ phase: 'saving', step: 0, total: 1 });
    return { output, image };
  },

  async finish(req, { output: out, image }, { library, settings, emit }, partial) {
    const id = newItemId();
    // Stored at the size the inversion looked at: an upload larger than that is scaled down (never up).
    const target = await toUprightPng(image, { maxShortSide: out.inversionSize });
    const targetFile = await library.writeFile(`${id}-target`, 'png', target.png);
    const candidates: InversionRecord['candidates'] = [];
    let bestPng: Uint8Array | undefined;
    for (const [i, c] of out.candidates.slice(0, MAX_CANDIDATES).entries()) {
      let file: string | undefined;
      if (c.png && i < STORED_CANDIDATE_IMAGES) {
        file = await library.writeFile(`${id}-c${i}`, 'png', c.png);
        bestPng ??= c.png;
      }
      candidates.push({
        prompt: c.prompt,
        score: Number.isFinite(c.score) ? c.score : 0,
        ...(c.iteration !== undefined ? { iteration: c.iteration } : {}),
        ...(file ? { file } : {}),
      });
    }
    const shown = bestPng ? pngDimensions(bestPng) : target;
    const inversion: InversionRecord = {
      prompt: out.prompt,
      initialPrompt: out.initialPrompt,
      candidates,
      loss: out.loss.slice(0, 10_000).filter((x) => Number.isFinite(x)),
      iterations: out.iterations,
      seconds: out.seconds,
      preset: req.preset ?? settings.defaults.invert.preset,
      objective: out.objective,
      ...(out.method && out.method !== 'editor' ? { method: out.method } : {}),
      model: req.modelSet ?? settings.modelSet,
      targetFile,
      partial,
    };
    const title = req.image.source === 'data' ? req.image.name : undefined;
    const item: LibraryItem = await library.add(
      {
        kind: 'inversion',
        id,
        createdAt: new Date().toISOString(),
        file: `${id}.png`,
        width: shown.width || 1,
        height: shown.height || 1,
        ...(title ? { title } : {}),
        inversion,
      },
      bestPng ?? target.png,
    );
    emit({ type: 'library.changed', change: 'added', item });
    return {
      kind: 'invert',
      item,
      prompt: inversion.prompt,
      initialPrompt: inversion.initialPrompt,
      candidates: inversion.candidates,
      loss: inversion.loss,
      iterations: inversion.iterations,
      seconds: inversion.seconds,
      warnings: out.warnings.slice(0, 32),
      ...(inversion.method ? { method: inversion.method } : {}),
    };
  },
};
