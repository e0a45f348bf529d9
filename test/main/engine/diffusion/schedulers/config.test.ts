import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../src/main/engine/errors.js';
import {
  ddim,
  euler,
  loadSchedulerConfig,
  parseSchedulerConfig,
  turbo,
} from '../../../../../src/main/engine/diffusion/schedulers/index.js';

// The scheduler_config.json of runwayml/stable-diffusion-v1-5 (and its ONNX exports).
const SD15_FILE = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

function tempModel(files: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sched-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

describe('loadSchedulerConfig', () => {
  it('reads the SD 1.5 file from a model folder, a scheduler folder or the file itself', async () => {
    const dir = tempModel({ 'scheduler/scheduler_config.json': SD15_FILE });
    for (const p of [dir, path.join(dir, 'scheduler'), path.join(dir, 'scheduler', 'scheduler_config.json')]) {
      const c = await loadSchedulerConfig(p);
      expect(c).toMatchObject({
        _class_name: 'PNDMScheduler',
        num_train_timesteps: 1000,
        beta_start: 0.00085,
        beta_end: 0.012,
        beta_schedule: 'scaled_linear',
        steps_offset: 1,
        set_alpha_to_one: false,
        clip_sample: false,
      });
      expect(c.timestep_spacing).toBeUndefined(); // each scheduler applies its own default
      expect(ddim.plan(c, 50).timesteps[0]).toBe(981);
      expect(euler.plan(c, 50).timesteps[0]).toBe(999);
    }
  });

  it('fills missing schedule fields with the named class defaults', () => {
    const ddimFile = parseSchedulerConfig({ _class_name: 'DDIMScheduler' });
    expect(ddimFile).toMatchObject({ num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' });
    const lcm = parseSchedulerConfig({ _class_name: 'LCMScheduler' });
    expect(lcm).toMatchObject({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' });
    expect(turbo.plan(lcm, 4).timesteps).toEqual([999, 759, 499, 259]);
  });

  it('keeps the Euler/LCM extras and ignores unknown keys', () => {
    const c = parseSchedulerConfig({
      ...SD15_FILE,
      _class_name: 'EulerDiscreteScheduler',
      timestep_spacing: 'trailing',
      use_karras_sigmas: false,
      interpolation_type: 'linear',
      sigma_min: null,
      original_inference_steps: 50,
      something_new: [1, 2, 3],
    });
    expect(c.timestep_spacing).toBe('trailing');
    expect(c.interpolation_type).toBe('linear');
    expect(c.sigma_min).toBeNull();
    expect(c.original_inference_steps).toBe(50);
    expect('something_new' in c).toBe(false);
  });

  it('reports missing files, bad JSON and wrong field types as engine errors naming the file', async () => {
    const empty = tempModel({ 'unet/x.txt': 'x' });
    await expect(loadSchedulerConfig(empty)).rejects.toMatchObject({ code: 'MODEL_FOLDER' });
    await expect(loadSchedulerConfig(path.join(empty, 'nope.json'))).rejects.toBeInstanceOf(EngineError);
    const bad = tempModel({ 'scheduler/scheduler_config.json': '{ not json' });
    await expect(loadSchedulerConfig(bad)).rejects.toMatchObject({ code: 'INVALID_MODEL' });
    expect(() => parseSchedulerConfig({ beta_start: 'small' }, 'x.json')).toThrow(/x.json: field "beta_start"/);
    expect(() => parseSchedulerConfig({ beta_schedule: 'sigmoid' })).toThrow(/beta_schedule/);
    expect(() => parseSchedulerConfig({ timestep_spacing: 'even' })).toThrow(/timestep_spacing/);
    expect(() => parseSchedulerConfig([1, 2])).toThrow(/JSON object/);
    expect(() => parseSchedulerConfig({ trained_betas: ['a'] })).toThrow(/trained_betas/);
  });
});
