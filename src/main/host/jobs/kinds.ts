/** Every job kind the engine process runs, by request type (see job-kind.ts for adding one). */
import { downloadModelJob } from './download-model.js';
import { editJob } from './edit.js';
import { evalJob } from './eval.js';
import { breedEvolutionJob, createEvolutionJob, reinvertEvolutionJob } from './evolve.js';
import { fuseJob } from './fuse.js';
import { generateJob } from './generate.js';
import { importModelJob } from './import-model.js';
import { invertJob } from './invert.js';
import type { JobKindTable } from './job-kind.js';
import { segmentJob } from './segment.js';

export const JOB_KINDS: JobKindTable = {
  generate: generateJob,
  invert: invertJob,
  segment: segmentJob,
  edit: editJob,
  eval: evalJob,
  fuse: fuseJob,
  createEvolution: createEvolutionJob,
  breedEvolution: breedEvolutionJob,
  reinvertEvolution: reinvertEvolutionJob,
  downloadModel: downloadModelJob,
  importModel: importModelJob,
};
