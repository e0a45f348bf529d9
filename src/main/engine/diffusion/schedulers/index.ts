/**
 * Scheduler registry. Each factory turns a diffusers scheduler config and a step count into a
 * SamplingPlan of linear step coefficients (see types.ts).
 */
import { EngineError } from '../../errors.js';
import { ddim } from './ddim.js';
import { euler } from './euler.js';
import { lms } from './lms.js';
import { turbo } from './turbo.js';
import type { SchedulerFactory, SchedulerName } from './types.js';

export type { SamplingPlan, SchedulerConfig, SchedulerFactory, SchedulerName, StepCoefficients } from './types.js';
export type { DiffusersSchedulerConfig, TimestepSpacing } from './noise-schedule.js';
export { alphasCumprod, betas, trainSigmas } from './noise-schedule.js';
export { loadSchedulerConfig, parseSchedulerConfig, SD15_SCHEDULER_CONFIG, SD_SCHEDULE } from './config.js';
export { applyStep, simulate, type SimulateOptions } from './simulate.js';
export { ddim, euler, lms, turbo };

export const SCHEDULER_NAMES: readonly SchedulerName[] = ['ddim', 'euler', 'lms', 'turbo'];

const FACTORIES: Record<SchedulerName, SchedulerFactory> = { ddim, euler, lms, turbo };

export function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/** The factory for `name`; throws INVALID_ARGUMENT listing the valid names otherwise. */
export function getScheduler(name: string): SchedulerFactory {
  const key = name.trim().toLowerCase();
  if (!isSchedulerName(key))
    throw new EngineError('INVALID_ARGUMENT', `Unknown scheduler "${name}"; choose one of ${SCHEDULER_NAMES.join(', ')}.`);
  return FACTORIES[key];
}
