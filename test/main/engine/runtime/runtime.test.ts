import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { makeTensor } from '../../../../src/main/engine/onnx/builder.js';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType, floatToHalf } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyModel } from '../../../../src/main/engine/onnx/ir.js';
import { encodeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { autoGpuProvider, providerCandidates, type ProviderEnvironment } from '../../../../src/main/engine/runtime/providers.js';
import { createSession, type RuntimeWarning } from '../../../../src/main/engine/runtime/session.js';
import { floatTensor, idsTensor, tensorToFloat32, timestepTensor } from '../../../../src/main/engine/runtime/tensors.js';

const env = (platform: NodeJS.Platform, backends: string[], cudaInstalled = false): ProviderEnvironment => ({
  platform,
  backends,
  cudaInstalled,
});

/** y = 2x + t for x float [batch, 3] and t of the given type [batch]. */
function tinyModel(tType: DataType, io: DataType = DataType.FLOAT): Uint8Array {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph, 17);
  const x = b.addInput('x', io, ['batch', 3]);
  const t = b.addInput('timestep', tType, ['batch']);
  const xf = io === DataType.FLOAT ? x : b.cast(x, DataType.FLOAT);
  const tf = b.unsqueeze(tType === DataType.FLOAT ? t : b.cast(t, DataType.FLOAT), [1]);
  m.graph.initializers.set('two', makeTensor('two', DataType.FLOAT, [], [2]));
  let y = b.op('Add', [b.op('Mul', [xf, 'two']), tf]);
  if (io !== DataType.FLOAT) y = b.cast(y, io);
  b.identity(y, 'y');
  b.addOutput('y', io, ['batch', 3]);
  return encodeModel(m);
}

describe('execution providers', () => {
  it('auto picks the platform GPU provider only where it is usable', () => {
    expect(providerCandidates('auto', env('linux', ['cpu', 'cuda'], true))).toEqual(['cuda', 'cpu']);
    expect(providerCandidates('auto', env('linux', ['cpu', 'cuda'], false))).toEqual(['cpu']);
    expect(providerCandidates('auto', env('win32', ['cpu', 'dml']))).toEqual(['dml', 'cpu']);
    expect(providerCandidates('auto', env('darwin', ['cpu', 'coreml']))).toEqual(['coreml', 'cpu']);
    expect(providerCandidates('auto', env('freebsd', ['cpu']))).toEqual(['cpu']);
    expect(autoGpuProvider(env('win32', ['cpu']))).toBeUndefined();
  });

  it('explicit choices are tried first and always fall back to CPU', () => {
    expect(providerCandidates('cpu', env('linux', ['cpu', 'cuda'], true))).toEqual(['cpu']);
    expect(providerCandidates('webgpu', env('linux', ['cpu']))).toEqual(['webgpu', 'cpu']);
    expect(providerCandidates('dml', env('linux', ['cpu']))).toEqual(['dml', 'cpu']);
  });

  it('a GPU provider that fails to start falls back to CPU with a warning event', async () => {
    const events: RuntimeWarning[] = [];
    const s = await createSession(tinyModel(DataType.INT64), {
      provider: 'cuda',
      simulateProviderFailure: ['cuda'],
      onWarning: (w) => events.push(w),
      name: 'tiny',
    });
    expect(s.provider).toBe('cpu');
    expect(events).toHaveLength(1);
    expect(events[0]!.code).toBe('PROVIDER_FALLBACK');
    expect(events[0]!.message).toMatch(/cuda.*tiny.*CPU/);
    expect(s.warnings).toEqual(events);
    await s.release();
  });

  it('a provider this machine lacks (dml on non-Windows) really falls back', async () => {
    const s = await createSession(tinyModel(DataType.INT64), { provider: process.platform === 'win32' ? 'coreml' : 'dml' });
    expect(s.provider).toBe('cpu');
    expect(s.warnings[0]?.code).toBe('PROVIDER_FALLBACK');
    await s.release();
  });
});

describe('sessions', () => {
  it('exposes input/output metadata (types and symbolic dims)', async () => {
    const s = await createSession(tinyModel(DataType.FLOAT16, DataType.FLOAT16), { provider: 'cpu' });
    expect(s.input('x')).toEqual({ name: 'x', type: 'float16', shape: ['batch', 3] });
    expect(s.input('timestep')?.type).toBe('float16');
    expect(s.output('y')?.shape).toEqual(['batch', 3]);
    const out = await s.run({
      x: floatTensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], 'float16'),
      timestep: timestepTensor(10, 'float16', 2),
    });
    expect(Array.from(tensorToFloat32(out.y!))).toEqual([12, 14, 16, 18, 20, 22]);
    await s.release();
  });

  it('runs int64 and float32 timesteps', async () => {
    for (const [dt, name] of [
      [DataType.INT64, 'int64'],
      [DataType.FLOAT, 'float32'],
    ] as const) {
      const s = await createSession(tinyModel(dt), { provider: 'cpu', threads: 1 });
      expect(s.input('timestep')?.type).toBe(name);
      const out = await s.run({ x: floatTensor(new Float32Array([0.5, 1, 1.5]), [1, 3]), timestep: timestepTensor(999, name, 1) });
      expect(Array.from(tensorToFloat32(out.y!))).toEqual([1000, 1001, 1002]);
      await s.release();
    }
  });

  it('reports a missing file as MODEL_FOLDER and garbage as INVALID_MODEL', async () => {
    await expect(createSession('/nonexistent/unet/model.onnx')).rejects.toMatchObject({ code: 'MODEL_FOLDER' });
    const e = await createSession(new Uint8Array([1, 2, 3, 4, 5]), { name: 'junk' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('INVALID_MODEL');
    expect((e as EngineError).message).toMatch(/junk/);
  });

  it('wraps run failures as RUNTIME errors', async () => {
    const s = await createSession(tinyModel(DataType.INT64), { provider: 'cpu' });
    await expect(s.run({ x: floatTensor(new Float32Array(4), [1, 4]), timestep: timestepTensor(1, 'int64') })).rejects.toMatchObject({
      code: 'RUNTIME',
    });
    await s.release();
  });
});

describe('tensor helpers', () => {
  it('converts float16 both ways with round-to-nearest', () => {
    const t = floatTensor(Float32Array.from([1, -2.5, 0.1, 65504]), [4], 'float16');
    expect(t.type).toBe('float16');
    expect((t.data as Uint16Array)[2]).toBe(floatToHalf(0.1));
    const back = tensorToFloat32(t);
    expect(back[0]).toBe(1);
    expect(back[1]).toBe(-2.5);
    expect(back[2]).toBeCloseTo(0.1, 3);
    expect(back[3]).toBe(65504);
  });

  it('builds timesteps and ids of every export type', () => {
    const a = timestepTensor(980.6, 'int64', 2);
    expect(a.type).toBe('int64');
    expect(Array.from(a.data as BigInt64Array)).toEqual([981n, 981n]);
    expect(Array.from(timestepTensor(980.5, 'float32').data as Float32Array)).toEqual([980.5]);
    expect(idsTensor([49406, 1, 49407], [1, 3], 'int64').data).toBeInstanceOf(BigInt64Array);
    expect(idsTensor([49406, 1, 49407], [1, 3]).data).toBeInstanceOf(Int32Array);
    expect(() => floatTensor(new Float32Array(3), [2, 2])).toThrow(/4 values/);
    expect(() => tensorToFloat32(new ort.Tensor('int32', new Int32Array(1), [1]))).toThrow(EngineError);
  });
});
