/**
 * The gradient engine on the project's own generated models (models/demo): the demo UNet w.r.t.
 * encoder_hidden_states and sample, the VAE decoder w.r.t. latent_sample, the text encoder w.r.t.
 * its token-embedding table, checked against central finite differences along random directions
 * (float32; measured agreement ~1e-4, tolerance 2e-3), plus the fp16 variants (fp16 I/O keeps fp16 gradients).
 */
import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DataType, float32ToHalfArray, halfArrayToFloat32 } from '../../../../src/main/engine/onnx/dtype.js';
import type { Model } from '../../../../src/main/engine/onnx/ir.js';
import { specialise } from '../../../../src/main/engine/onnx/specialise.js';
import { demoUnetOptions, DEMO_HIDDEN } from '../../../../src/main/engine/models/demo/index.js';
import { buildUnetModel } from '../../../../src/main/engine/models/demo/unet.js';
import { buildVaeDecoderModel } from '../../../../src/main/engine/models/demo/vae.js';
import { buildTextEncoderModel, TOKEN_EMBEDDING_NAME } from '../../../../src/main/engine/models/demo/text-encoder.js';
import { buildVjp } from '../../../../src/main/engine/autodiff/vjp.js';
import { rng } from './fd.js';
import { createSession } from './ort.js';

type Spec = { shape: number[]; dtype: 'float32' | 'float16' | 'int64' | 'int32'; values: number[] };

function tensorOf(s: Spec): ort.Tensor {
  if (s.dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(s.values), s.shape);
  if (s.dtype === 'float16') return new ort.Tensor('float16', float32ToHalfArray(s.values), s.shape);
  if (s.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(s.values.map(BigInt)), s.shape);
  return new ort.Tensor('int32', Int32Array.from(s.values), s.shape);
}

const numbers = (t: ort.Tensor): number[] =>
  t.type === 'float16' ? Array.from(halfArrayToFloat32(t.data as Uint16Array)) : Array.from(t.data as Float32Array);

/** FD along random directions of every float input in `wrt`; returns the worst relative error. */
async function directionalCheck(model: Model, inputs: Record<string, Spec>, wrt: string[], wrtInit: string[] = []): Promise<number> {
  const fixed = specialise(model, Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.shape])), { keep: wrtInit });
  const r = buildVjp(fixed, { wrt, wrtInitializers: wrtInit });
  const rand = rng(99);
  const out = fixed.graph.outputs[0]!;
  const outShape = out.shape as number[];
  const cot = Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) feeds[k] = tensorOf(v);
  const vs = await createSession(r.model);
  const res = await vs.run({ ...feeds, [r.cotangentInputs[out.name]!]: new ort.Tensor('float32', Float32Array.from(cot), outShape) });
  await vs.release();

  let worst = 0;
  const fs = await createSession(fixed);
  for (const name of wrt) {
    const base = inputs[name]!;
    const g = numbers(res[r.gradOutputs[name]!]!);
    const v = base.values.map(() => rand() * 2 - 1);
    const f = async (s: number) => {
      const y = numbers(
        (await fs.run({ ...feeds, [name]: tensorOf({ ...base, values: base.values.map((x, i) => x + s * v[i]!) }) }))[out.name]!,
      );
      return y.reduce((acc, yi, i) => acc + yi * cot[i]!, 0);
    };
    const eps = 1e-2;
    const fd = ((await f(eps)) - (await f(-eps))) / (2 * eps);
    const an = g.reduce((acc, gi, i) => acc + gi * v[i]!, 0);
    worst = Math.max(worst, Math.abs(fd - an) / Math.max(Math.abs(fd), 1e-6));
  }
  await fs.release();
  return worst;
}

const rnd = (n: number, seed: number, scale = 1) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};

describe('gradients of the generated demo models', () => {
  it('demo UNet w.r.t. encoder_hidden_states and sample (finite differences)', async () => {
    const o = demoUnetOptions({ timestepDtype: 'float32' });
    const unet = buildUnetModel(o);
    const err = await directionalCheck(
      unet,
      {
        sample: { shape: [1, 4, 16, 16], dtype: 'float32', values: rnd(1024, 1) },
        timestep: { shape: [1], dtype: 'float32', values: [420] },
        encoder_hidden_states: { shape: [1, 77, o.crossAttentionDim], dtype: 'float32', values: rnd(77 * o.crossAttentionDim, 2) },
      },
      ['encoder_hidden_states', 'sample'],
    );
    expect(err).toBeLessThan(2e-3);
  });

  it('demo VAE decoder w.r.t. latent_sample', async () => {
    const err = await directionalCheck(
      buildVaeDecoderModel({ seed: 5 }),
      { latent_sample: { shape: [1, 4, 8, 8], dtype: 'float32', values: rnd(256, 3, 3) } },
      ['latent_sample'],
    );
    expect(err).toBeLessThan(2e-3);
  });

  it('demo text encoder w.r.t. its token-embedding table (int32 ids)', async () => {
    const te = buildTextEncoderModel({ vocabSize: 50, hidden: 32, layers: 2, heads: 2, seed: 4 });
    const fixed = specialise(te, { input_ids: [1, 77] }, { keep: [TOKEN_EMBEDDING_NAME] });
    const r = buildVjp(fixed, { wrtInitializers: [TOKEN_EMBEDDING_NAME] });
    const ids = Array.from({ length: 77 }, (_v, i) => (i < 6 ? [49, 3, 7, 7, 12, 48][i]! : 48));
    const cot = rnd(77 * 32, 8);
    const s = await createSession(r.model);
    const res = await s.run({
      input_ids: tensorOf({ shape: [1, 77], dtype: 'int32', values: ids }),
      [r.cotangentInputs['last_hidden_state']!]: new ort.Tensor('float32', Float32Array.from(cot), [1, 77, 32]),
    });
    await s.release();
    const g = numbers(res[`${TOKEN_EMBEDDING_NAME}_grad`]!);
    // rows of tokens that never occur get exactly zero; used rows do not
    const rowNorm = (row: number) => g.slice(row * 32, row * 32 + 32).reduce((a, x) => a + Math.abs(x), 0);
    expect(rowNorm(0)).toBe(0);
    expect(rowNorm(20)).toBe(0);
    for (const t of [3, 7, 12, 48, 49]) expect(rowNorm(t)).toBeGreaterThan(0);
  });

  it('fp16 demo UNet: gradient model keeps fp16 I/O and agrees with the fp32 model', async () => {
    const inputs = (dt: 'float16' | 'float32'): Record<string, Spec> => ({
      sample: { shape: [1, 4, 16, 16], dtype: dt, values: rnd(1024, 1) },
      timestep: { shape: [1], dtype: 'int64', values: [500] },
      encoder_hidden_states: { shape: [1, 77, DEMO_HIDDEN], dtype: dt, values: rnd(77 * DEMO_HIDDEN, 2) },
    });
    const grads: number[][] = [];
    for (const dt of ['float32', 'float16'] as const) {
      const m = buildUnetModel(demoUnetOptions({ ioDtype: dt, weights: dt }));
      const fixed = specialise(m, Object.fromEntries(Object.entries(inputs(dt)).map(([k, v]) => [k, v.shape])));
      const r = buildVjp(fixed, { wrt: ['encoder_hidden_states'] });
      const gradInfo = r.model.graph.outputs.find((o) => o.name === 'encoder_hidden_states_grad')!;
      expect(gradInfo.dtype).toBe(dt === 'float16' ? DataType.FLOAT16 : DataType.FLOAT);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(inputs(dt))) feeds[k] = tensorOf(v);
      feeds['out_sample_cotangent'] = tensorOf({ shape: [1, 4, 16, 16], dtype: dt, values: rnd(1024, 5) });
      const s = await createSession(r.model);
      const res = await s.run(feeds);
      await s.release();
      grads.push(numbers(res['encoder_hidden_states_grad']!));
    }
    const [g32, g16] = grads as [number[], number[]];
    const scale = Math.max(...g32.map(Math.abs));
    const err = Math.max(...g32.map((x, i) => Math.abs(x - g16[i]!)));
    expect(err / scale).toBeLessThan(5e-2);
  });
});
