/**
 * Reading diffusers `scheduler_config.json`. Fields present in the file are kept as written;
 * missing training-schedule fields take the defaults of the class the file names (as
 * diffusers' `from_config` would), and sampler-specific fields (timestep_spacing,
 * set_alpha_to_one, ...) stay absent so each scheduler applies its own diffusers default.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../../errors.js';
import type { DiffusersSchedulerConfig } from './noise-schedule.js';

/** SD 1.x/2.x training schedule (what LCMScheduler defaults to, and what SD configs spell out). */
export const SD_SCHEDULE = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
} as const;

/** The scheduler_config.json of the public SD 1.5 repos (a PNDMScheduler file). */
export const SD15_SCHEDULER_CONFIG: DiffusersSchedulerConfig = {
  _class_name: 'PNDMScheduler',
  ...SD_SCHEDULE,
  set_alpha_to_one: false,
  steps_offset: 1,
  clip_sample: false,
  trained_betas: null,
};

/** diffusers' constructor defaults for classes whose file omits a schedule field. */
function classDefaults(
  className: string | undefined,
): Pick<DiffusersSchedulerConfig, 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule'> {
  if (className === 'LCMScheduler') return { ...SD_SCHEDULE };
  return { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };
}

const STRING_FIELDS = [
  '_class_name',
  'beta_schedule',
  'timestep_spacing',
  'prediction_type',
  'interpolation_type',
  'timestep_type',
  'final_sigmas_type',
] as const;
const NUMBER_FIELDS = [
  'num_train_timesteps',
  'beta_start',
  'beta_end',
  'steps_offset',
  'original_inference_steps',
  'timestep_scaling',
] as const;
const BOOLEAN_FIELDS = [
  'set_alpha_to_one',
  'clip_sample',
  'rescale_betas_zero_snr',
  'thresholding',
  'use_karras_sigmas',
  'use_exponential_sigmas',
  'use_beta_sigmas',
] as const;
const NULLABLE_NUMBER_FIELDS = ['sigma_min', 'sigma_max'] as const;

/**
 * Validates a parsed scheduler_config.json object. `source` names the file in error messages.
 * Throws EngineError('INVALID_MODEL') on fields of the wrong type.
 */
export function parseSchedulerConfig(raw: unknown, source = 'scheduler_config.json'): DiffusersSchedulerConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new EngineError('INVALID_MODEL', `${source}: expected a JSON object.`);
  const obj = raw as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    throw new EngineError('INVALID_MODEL', `${source}: field "${field}" should be ${want} (got ${JSON.stringify(obj[field])}).`);
  };
  const out: Record<string, unknown> = {};
  for (const f of STRING_FIELDS) {
    const v = obj[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') bad(f, 'a string');
    out[f] = v;
  }
  for (const f of NUMBER_FIELDS) {
    const v = obj[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(f, 'a number');
    out[f] = v;
  }
  for (const f of BOOLEAN_FIELDS) {
    const v = obj[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') bad(f, 'true or false');
    out[f] = v;
  }
  for (const f of NULLABLE_NUMBER_FIELDS) {
    const v = obj[f];
    if (v === undefined) continue;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) bad(f, 'a number or null');
    out[f] = v;
  }
  const tb = obj.trained_betas;
  if (tb !== undefined && tb !== null) {
    if (!Array.isArray(tb) || !tb.every((x) => typeof x === 'number' && Number.isFinite(x)))
      bad('trained_betas', 'an array of numbers or null');
    out.trained_betas = tb;
  }
  const defaults = classDefaults(out._class_name as string | undefined);
  const config = { ...defaults, ...out } as DiffusersSchedulerConfig;
  if (!Number.isInteger(config.num_train_timesteps) || config.num_train_timesteps < 2) bad('num_train_timesteps', 'an integer >= 2');
  if (!['scaled_linear', 'linear', 'squaredcos_cap_v2'].includes(config.beta_schedule))
    bad('beta_schedule', '"scaled_linear", "linear" or "squaredcos_cap_v2"');
  if (config.timestep_spacing !== undefined && !['leading', 'trailing', 'linspace'].includes(config.timestep_spacing))
    bad('timestep_spacing', '"leading", "trailing" or "linspace"');
  if (config.prediction_type !== undefined && !['epsilon', 'v_prediction', 'sample'].includes(config.prediction_type))
    bad('prediction_type', '"epsilon", "v_prediction" or "sample"');
  return config;
}

/**
 * Loads a diffusers scheduler config. `p` may be the JSON file itself, a `scheduler/` folder, or
 * a model folder containing `scheduler/scheduler_config.json`.
 */
export async function loadSchedulerConfig(p: string): Promise<DiffusersSchedulerConfig> {
  let file = p;
  const info = await stat(p).catch(() => null);
  if (info === null) throw new EngineError('MODEL_FOLDER', `Scheduler config not found: ${p}.`);
  if (info.isDirectory()) {
    const candidates = [path.join(p, 'scheduler_config.json'), path.join(p, 'scheduler', 'scheduler_config.json')];
    const found = await firstExisting(candidates);
    if (found === null)
      throw new EngineError('MODEL_FOLDER', `No scheduler config in ${p}: expected scheduler/scheduler_config.json (diffusers layout).`);
    file = found;
  }
  const text = await readFile(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new EngineError('INVALID_MODEL', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseSchedulerConfig(raw, file);
}

async function firstExisting(paths: string[]): Promise<string | null> {
  for (const p of paths) {
    const s = await stat(p).catch(() => null);
    if (s?.isFile()) return p;
  }
  return null;
}
