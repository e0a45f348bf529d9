/** The `downloadModel` job: fetch a model of the shipped manifests into the cache (resumable, verified). */
import { DownloadModelRequestSchema } from '../../../shared/ipc/requests.js';
import type { ModelInfo } from '../../../shared/ipc/models.js';
import type { JobKind } from './job-kind.js';

export const downloadModelJob: JobKind<'downloadModel', ModelInfo> = {
  type: 'downloadModel',
  schema: DownloadModelRequestSchema,
  run: (req, opts, { engine }) => engine.downloadModel(req.id, opts),
  finish: async (_req, model) => ({ kind: 'downloadModel', model }),
};
