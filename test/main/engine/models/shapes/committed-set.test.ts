/**
 * The committed shapes set (models/shapes/, trained by `npm run train:shapes`): `--models shapes`
 * installs it into a cache and loads it, and it generates recognisable scenes (the checker reads
 * the asked colour and position). Few, fixed seeds and the set's default steps keep it fast and
 * deterministic. Skips when the checkout has no trained set.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../../../src/main/engine/diffusion/pipeline.js';
import { decodeCaptionerLogits } from '../../../../../src/main/engine/models/shapes/captioner.js';
import { committedShapesDir } from '../../../../../src/main/engine/models/shapes/install.js';
import { checkImage, parsePrompt, sceneToTensor, tensorToImage } from '../../../../../src/main/engine/models/shapes/world/index.js';

const committed = committedShapesDir();
const present = existsSync(path.join(committed, 'model_index.json'));
let cache: string;
let ms: ModelSet;

beforeAll(async () => {
  if (!present) return;
  cache = await mkdtemp(path.join(os.tmpdir(), 'shapes-committed-'));
  ms = await loadModelSet('shapes', { cacheDir: cache });
}, 120_000);
afterAll(async () => {
  await ms?.release();
  if (cache) await rm(cache, { recursive: true, force: true });
});

describe.skipIf(!present)('the committed shapes set (models/shapes)', () => {
  it('loads as --models shapes with its 64x64 defaults and the SD 1.5 schedule', () => {
    expect(ms.name).toBe('shapes');
    expect(ms.dir.startsWith(cache)).toBe(true);
    expect(ms.defaults.width).toBe(64);
    expect(ms.defaults.height).toBe(64);
    expect(ms.io.hiddenSize).toBe(128);
    expect(ms.io.timestepType).toBe('int64');
    expect(ms.schedulerConfig.beta_schedule).toBe('scaled_linear');
    expect(ms.schedulerConfig.num_train_timesteps).toBe(1000);
    for (const w of ['left', 'small', 'triangle', 'background']) expect(ms.tokenizer.encode(w).length).toBe(3); // BOS, one token, EOS
  });

  it.each([
    ['a large red circle on the left on a gray background', 3],
    ['a large blue square at the top on a white background', 4],
    ['a small yellow triangle on the right and a large green cross on the left on a black background', 5],
  ])('generates a recognisable scene: %s', async (prompt, seed) => {
    const want = parsePrompt(prompt);
    const r = await generate(ms, { prompt, seed, steps: ms.defaults.steps, guidance: ms.defaults.guidance, scheduler: ms.defaults.scheduler, width: 64, height: 64 }, { png: false });
    const read = checkImage(tensorToImage(r.image, 64, 64)).scene;
    for (const o of want.objects) expect(read.objects.some((p) => p.colour === o.colour && p.position === o.position), `${o.colour} at ${o.position} in ${JSON.stringify(read)}`).toBe(true);
  });

  it('has a captioner that reads a rendered scene', async () => {
    const s = await ort.InferenceSession.create(path.join(ms.dir, 'captioner', 'model.onnx'));
    const prompt = 'a small purple diamond at the bottom and a large orange circle at the top on a brown background';
    const x = sceneToTensor(parsePrompt(prompt), { seed: 9 });
    const out = await s.run({ pixel_values: new ort.Tensor('float32', x, [1, 3, 64, 64]) });
    // canonical order: top before bottom
    expect(decodeCaptionerLogits(out['logits']!.data as Float32Array).prompt).toBe('a large orange circle at the top and a small purple diamond at the bottom on a brown background');
    await s.release();
  });
});
