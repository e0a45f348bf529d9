/**
 * Damaged model sets give messages that say what is wrong and what to do (issue 17, item 6):
 * truncated external weights, an invalid model_index.json, an empty tokenizer vocabulary, and a
 * damaged demo set (regenerated, not "re-download"). Works on copies of the shared demo set.
 */
import { cp, mkdtemp, readdir, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { loadClipTokenizer } from '../../../../src/main/engine/diffusion/tokenizer/index.js';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { validateModelFolder } from '../../../../src/main/engine/models/model-folder.js';
import { testCacheDir, testDemoModelSet } from '../models/demo/demo-cache.js';
import { deadPid } from '../io/fs-fixtures.js';

let root: string;
let demo: string;

beforeAll(async () => {
  demo = await testDemoModelSet();
  root = await mkdtemp(path.join(os.tmpdir(), 'is-damaged-'));
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function copyOfDemo(name: string): Promise<string> {
  const dir = path.join(root, name);
  await cp(demo, dir, { recursive: true });
  return dir;
}

async function loadError(ref: string, opts: Parameters<typeof loadModelSet>[1] = {}): Promise<EngineError> {
  try {
    const ms = await loadModelSet(ref, { provider: 'cpu', ...opts });
    await ms.release();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error(`${ref} loaded`);
}

describe('damaged model sets', () => {
  it('truncated external UNet weights: names the file and the sizes (not onnxruntime text cut mid-word)', async () => {
    const dir = await copyOfDemo('truncated');
    const data = path.join(dir, 'unet', 'model.onnx_data');
    await truncate(data, Math.floor(statSync(data).size / 2));
    const e = await loadError(dir);
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toMatch(
      /onnxruntime cannot load truncated\/unet: .*unet\/model\.onnx: external data file .*model\.onnx_data is truncated \(\d+ bytes, tensor '.+' needs \d+\)/,
    );
  });

  it('an invalid model_index.json is reported, not ignored', async () => {
    const dir = await copyOfDemo('bad-index');
    await writeFile(path.join(dir, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline", ');
    const r = await validateModelFolder(dir);
    expect(r.ok).toBe(true);
    expect(r.hasModelIndex).toBe(false);
    expect(r.warnings.join('\n')).toMatch(/model_index\.json is not valid JSON \(.*\): ignored/);
    await writeFile(path.join(dir, 'model_index.json'), '[]');
    expect((await validateModelFolder(dir)).warnings.join('\n')).toMatch(/model_index\.json does not hold a JSON object/);
  });

  it('an empty tokenizer vocabulary names its file', async () => {
    const dir = await copyOfDemo('empty-vocab');
    await writeFile(path.join(dir, 'tokenizer', 'vocab.json'), '{}');
    await expect(loadClipTokenizer(path.join(dir, 'tokenizer'))).rejects.toThrow(
      /the tokenizer vocabulary .*empty-vocab\/tokenizer\/vocab\.json is empty/,
    );
    await writeFile(path.join(dir, 'tokenizer', 'vocab.json'), '{"a": 0}');
    await expect(loadClipTokenizer(path.join(dir, 'tokenizer'))).rejects.toThrow(/vocab\.json: the tokenizer's bos token/);
  });

  it('a damaged demo set is regenerated (with a warning), not sent to "re-download"', async () => {
    const cache = path.join(root, 'cache');
    const from = testCacheDir();
    // The models and their records; not tmp/ (other test processes' live session models).
    await cp(from, cache, { recursive: true, filter: (src) => path.relative(from, src).split(path.sep)[0] !== 'tmp' });
    const data = path.join(cache, 'models', 'demo', 'unet', 'model.onnx_data');
    await truncate(data, 1000);
    // A session model a killed process left next to the weights: swept on load, not warned about.
    const dead = deadPid();
    const leftover = path.join(cache, 'models', 'demo', 'unet', `.inversion-studio-${dead}-abcdefgh.onnx`);
    await writeFile(leftover, 'x');
    const old = new Date(Date.now() - 7200_000);
    await utimes(leftover, old, old);
    const warnings: string[] = [];
    const ms = await loadModelSet('demo', { cacheDir: cache, provider: 'cpu', onWarning: (w) => warnings.push(w.message) });
    await ms.release();
    expect(warnings.join('\n')).toMatch(/the demo model set in .*cache\/models\/demo was damaged \(.*truncated.*\); regenerating it/);
    expect(warnings.join('\n')).not.toMatch(/re-download/i);
    expect(warnings.join('\n')).not.toMatch(/inversion-studio-/);
    expect(statSync(data).size).toBeGreaterThan(1000);
    expect(await readdir(path.join(cache, 'models', 'demo', 'unet'))).toEqual(expect.not.arrayContaining([path.basename(leftover)]));
  }, 120_000);
});
