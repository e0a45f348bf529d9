/**
 * Whole-model gradient checks against PyTorch autograd references (../shared/fixtures, see its
 * README): UNet w.r.t. sample and encoder_hidden_states, VAE decoder w.r.t. latent_sample, text
 * encoder w.r.t. the initializer tok.weight, at opsets 14 and 17. Pass: max|err| / max|ref| <= 1e-4.
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readModel, encodeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { specialise } from '../../../../src/main/engine/onnx/specialise.js';
import { fixtureDir, fixtureFolders, haveFixture, readFixtureTensor, readManifest, type ManifestTensor } from '../onnx/peer-fixtures.js';
import { buildVjp } from '../../../../src/main/engine/autodiff/vjp.js';

interface GradManifestModel {
  file: string;
  inputs: Record<string, ManifestTensor>;
  outputs: Record<string, ManifestTensor>;
  cotangent: Record<string, ManifestTensor>;
  vjp?: Record<string, ManifestTensor>;
  vjp_initializer?: Record<string, ManifestTensor>;
}

const CASES: { model: string; what: string }[] = [
  { model: 'unet', what: 'sample, encoder_hidden_states' },
  { model: 'vae_decoder', what: 'latent_sample' },
  { model: 'text_encoder', what: 'initializer tok.weight' },
];

function relErr(got: Float32Array, ref: Float32Array): number {
  let e = 0,
    m = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(got[i]! - ref[i]!));
    m = Math.max(m, Math.abs(ref[i]!));
  }
  return e / m;
}

for (const folder of fixtureFolders) {
  const present = haveFixture(folder);
  describe.skipIf(!present)(`VJP vs PyTorch autograd: ${folder}${present ? '' : ' (skipped: ../shared/fixtures is absent)'}`, () => {
    for (const c of CASES) {
      it(`${c.model} w.r.t. ${c.what}`, async () => {
        const m = (readManifest(folder).models as unknown as Record<string, GradManifestModel>)[c.model]!;
        const wrt = Object.keys(m.vjp ?? {});
        const wrtInitializers = Object.keys(m.vjp_initializer ?? {});
        const model = await readModel(join(fixtureDir(folder), m.file));
        const shapes = Object.fromEntries(Object.entries(m.inputs).map(([k, t]) => [k, t.shape]));
        const fixed = specialise(model, shapes, { keep: wrtInitializers });
        const r = buildVjp(fixed, { wrt, wrtInitializers });

        const feeds: Record<string, ort.Tensor> = {};
        for (const [k, t] of Object.entries(m.inputs)) feeds[k] = new ort.Tensor(t.dtype, readFixtureTensor(folder, t), t.shape);
        for (const [o, t] of Object.entries(m.cotangent))
          feeds[r.cotangentInputs[o]!] = new ort.Tensor(t.dtype, readFixtureTensor(folder, t), t.shape);
        const session = await ort.InferenceSession.create(encodeModel(r.model), { logSeverityLevel: 3 });
        const out = await session.run(feeds);
        await session.release();

        for (const [o, t] of Object.entries(m.outputs)) {
          expect(relErr(out[o]!.data as Float32Array, readFixtureTensor(folder, t) as Float32Array), `forward ${o}`).toBeLessThan(1e-4);
        }
        const refs = { ...(m.vjp ?? {}), ...(m.vjp_initializer ?? {}) };
        expect(Object.keys(refs).length).toBeGreaterThan(0);
        for (const [name, t] of Object.entries(refs)) {
          const got = out[r.gradOutputs[name]!]!;
          expect(got.dims).toEqual(t.shape);
          const err = relErr(got.data as Float32Array, readFixtureTensor(folder, t) as Float32Array);
          expect(err, `d/d${name}: max|err|/max|ref|`).toBeLessThanOrEqual(1e-4);
        }
      });
    }
  });
}
