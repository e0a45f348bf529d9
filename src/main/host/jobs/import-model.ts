/** The `importModel` job: copy a model folder on the engine's machine into the cache. */
import { ImportModelRequestSchema } from '../../../shared/ipc/requests.js';
import type { ModelInfo } from '../../../shared/ipc/models.js';
import type { JobKind } from './job-kind.js';

export const importModelJob: JobKind<'importModel', ModelInfo> = {
  type: 'importModel',
  schema: ImportModelRequestSchema,
  run: (req, opts, { engine }) => engine.importModel(req.path, opts),
  finish: async (_req, model) => ({ kind: 'importModel', model }),
};
