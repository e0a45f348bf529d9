import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import path from 'node:path';
import { buildVjp } from '../../../../src/main/engine/autodiff/vjp.js';
import { readModel } from '../../../../src/main/engine/onnx/model-io.js';
import { fixtureDir, fixtureFolders, haveFixture, readFixtureTensor, readManifest } from '../onnx/peer-fixtures.js';
import { sessionFromModel } from '../../../../src/main/engine/runtime/session-from-model.js';
import { buildGuidedUnet, GUIDED_INPUTS, GUIDED_OUTPUT } from '../../../../src/main/engine/inversion/guided-unet.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';

function relErr(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - ref[i]!));
    den = Math.max(den, Math.abs(ref[i]!));
  }
  return num / den;
}

for (const folder of fixtureFolders) {
  describe.skipIf(!haveFixture(folder))(`guided UNet wrapper on ${folder} (skipped: ../shared/fixtures absent)`, () => {
    // Read lazily: describe bodies run even when the suite is skipped.
    const load = () => {
      const m = readManifest(folder).models.unet! as ReturnType<typeof readManifest>['models'][string] & {
        cotangent: Record<string, { file: string; shape: number[]; dtype: 'float32' }>;
        vjp: Record<string, { file: string; shape: number[]; dtype: 'float32' }>;
      };
      const get = (t: { file: string; shape: number[]; dtype: 'float32' | 'int64' }) => readFixtureTensor(folder, t) as Float32Array;
      return {
        m,
        get,
        sample: get(m.inputs.sample!),
        ehs: get(m.inputs.encoder_hidden_states!),
        t: get(m.inputs.timestep!),
        cot: get(m.cotangent.out_sample!),
      };
    };
    const shape = { latentHeight: 16, latentWidth: 16, channels: 4, tokens: 77, dim: 32 };

    it('without guidance reproduces the PyTorch VJP w.r.t. sample and encoder_hidden_states', async () => {
      const { m, get, sample, ehs, t, cot } = load();
      const unet = await readModel(path.join(fixtureDir(folder), 'unet.onnx'));
      const guided = buildGuidedUnet(unet, shape, false);
      expect(guided.timestepType).toBe(DataType.FLOAT);
      const vjp = buildVjp(guided.model, { wrt: [GUIDED_INPUTS.x, GUIDED_INPUTS.cond], outputs: [GUIDED_OUTPUT] });
      const s = await sessionFromModel(vjp.model);
      const res = await s.run({
        x: new ort.Tensor('float32', sample, [1, 4, 16, 16]),
        cond: new ort.Tensor('float32', ehs, [1, 77, 32]),
        t: new ort.Tensor('float32', t, [1]),
        [vjp.cotangentInputs[GUIDED_OUTPUT]!]: new ort.Tensor('float32', cot, [1, 4, 16, 16]),
      });
      expect(relErr(res[GUIDED_OUTPUT]!.data as Float32Array, get(m.outputs.out_sample!))).toBeLessThan(1e-4);
      expect(relErr(res[vjp.gradOutputs.x!]!.data as Float32Array, get(m.vjp.sample!))).toBeLessThan(1e-4);
      expect(relErr(res[vjp.gradOutputs.cond!]!.data as Float32Array, get(m.vjp.encoder_hidden_states!))).toBeLessThan(1e-4);
    });

    it('with guidance combines the two halves of one batch-2 call', async () => {
      const { m, get, sample, ehs, t, cot } = load();
      const unet = await readModel(path.join(fixtureDir(folder), 'unet.onnx'));
      const guided = buildGuidedUnet(unet, shape, true);
      const vjp = buildVjp(guided.model, { wrt: [GUIDED_INPUTS.x, GUIDED_INPUTS.cond], outputs: [GUIDED_OUTPUT] });
      const s = await sessionFromModel(vjp.model);
      const g = 3;
      const res = await s.run({
        x: new ort.Tensor('float32', sample, [1, 4, 16, 16]),
        cond: new ort.Tensor('float32', ehs, [1, 77, 32]),
        uncond: new ort.Tensor('float32', ehs, [1, 77, 32]),
        guidance: new ort.Tensor('float32', Float32Array.of(g), []),
        t: new ort.Tensor('float32', t, [1]),
        [vjp.cotangentInputs[GUIDED_OUTPUT]!]: new ort.Tensor('float32', cot, [1, 4, 16, 16]),
      });
      // With uncond = cond both halves agree: eps = UNet(x, cond), d/dx unchanged, d/dcond scaled by g.
      expect(relErr(res[GUIDED_OUTPUT]!.data as Float32Array, get(m.outputs.out_sample!))).toBeLessThan(1e-4);
      expect(relErr(res[vjp.gradOutputs.x!]!.data as Float32Array, get(m.vjp.sample!))).toBeLessThan(1e-4);
      const scaled = get(m.vjp.encoder_hidden_states!).map((v) => g * v);
      expect(relErr(res[vjp.gradOutputs.cond!]!.data as Float32Array, scaled)).toBeLessThan(1e-4);
      await s.release();
      const fwd = await sessionFromModel(guided.model);
      expect([...fwd.inputNames].sort()).toEqual(['cond', 'guidance', 't', 'uncond', 'x']);
    });
  });
}
