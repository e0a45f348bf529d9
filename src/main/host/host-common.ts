/** Small pieces shared by the engine service (worker side) and the engine host (main side); no native deps. */
import { ZodError } from 'zod';
import { EngineError } from '../engine/errors.js';
import type { ErrorInfo } from '../../shared/ipc/common.js';
import type { ImageInput, JobRequestType, RequestOf } from '../../shared/ipc/requests.js';
import { NotAvailableError } from './engine-adapter.js';

export const STUDIO_VERSION = '0.1.0';

/** An image input in a few words: the upload's name, or the library item (and file). */
function imageLabel(image: ImageInput): string {
  if (image.source === 'data') return (image.name ?? 'uploaded image').slice(0, 200);
  return `library image ${image.id}${image.file ? ` (${image.file})` : ''}`;
}

/** A fusion in a few words: its mode and parents. */
function fuseLabel(r: RequestOf<'fuse'>): string {
  const parents = r.parents.map((p) => (p.kind === 'prompt' ? `"${p.text.slice(0, 40)}"` : `library image ${p.id}`));
  return `${r.grid ? 'fusion grid' : `${r.mode} fusion`} of ${parents.join(' + ')}`.slice(0, 300);
}

/** Short human label of each job kind's request (prompt or file name). */
const JOB_LABELS: { [T in JobRequestType]: (r: RequestOf<T>) => string } = {
  generate: (r) => r.prompt.slice(0, 200) || '(empty prompt)',
  invert: (r) => imageLabel(r.image),
  segment: (r) => `attention maps of ${imageLabel(r.image)}${r.prompt ? ` by "${r.prompt.slice(0, 80)}"` : ''}`,
  edit: (r) => `edit of ${imageLabel(r.source)}: "${r.prompt.slice(0, 120)}"`,
  eval: (r) =>
    `evaluation of ${r.dataset.kind === 'shapes' ? `shapes:${r.dataset.n}` : r.dataset.path.slice(-160)} (${r.methods.join(', ')})${r.runId ? `, continuing ${r.runId}` : ''}`,
  fuse: (r) => fuseLabel(r),
  createEvolution: (r) => `new evolution session${r.name ? ` "${r.name.slice(0, 80)}"` : ''} from ${r.init.length} parent(s)`,
  breedEvolution: (r) => `breed evolution ${r.session}${r.picks?.length ? ` from ${r.picks.slice(0, 8).join(', ')}` : ' by fitness'}`,
  reinvertEvolution: (r) => `re-invert ${r.id} of evolution ${r.session}`,
  downloadModel: (r) => `download ${r.id}`,
  importModel: (r) => `import ${r.path.slice(-180)}`,
};

/** Short human label of a job (prompt or file name). */
export function jobLabel(r: RequestOf<JobRequestType>): string {
  return (JOB_LABELS[r.type] as (r: RequestOf<JobRequestType>) => string)(r);
}

/** Map anything thrown to a stable code and a message for the user. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof EngineError) return { code: e.code, message: e.message.slice(0, 4000) };
  if (e instanceof NotAvailableError) return { code: e.code, message: e.message };
  if (e instanceof ZodError)
    return {
      code: 'INVALID_ARGUMENT',
      message: e.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')
        .slice(0, 4000),
    };
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' && /^[A-Z_]{2,64}$/.test(err.code) ? err.code : 'INTERNAL';
  return { code, message: String(err?.message ?? e).slice(0, 4000) || 'unknown error' };
}
