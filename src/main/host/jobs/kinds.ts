/** Every job kind the engine process runs, by request type (see job-kind.ts for adding one). */
import { downloadModelJob } from './download-model.js';
import { generateJob } from './generate.js';
import { importModelJob } from './import-model.js';
import { invertJob } from './invert.js';
import type { JobKindTable } from './job-kind.js';
import { segmentJob } from './segment.js';

export const JOB_KINDS: JobKindTable = {
  generate: generateJob,
  invert: invertJob,
  segment: segmentJob,
  downloadModel: downloadModelJob,
  importModel: importModelJob,
};
