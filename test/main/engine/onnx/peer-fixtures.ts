/**
 * Test helpers for the peer fixture models in ../shared/fixtures (see its README): locating the
 * folders, reading manifest tensors and running a model in onnxruntime-node against them.
 * Used only by tests; never by the engine itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
export const fixturesRoot = resolve(repoRoot, '../shared/fixtures');
export const fixtureFolders = ['peer-a-opset14', 'peer-a-opset17'] as const;

export interface ManifestTensor {
  file: string;
  shape: number[];
  dtype: 'float32' | 'int64';
}
export interface ManifestModel {
  file: string;
  inputs: Record<string, ManifestTensor>;
  outputs: Record<string, ManifestTensor>;
}
export interface Manifest {
  opset: number;
  models: Record<string, ManifestModel>;
}

export function fixtureDir(folder: string): string {
  return join(fixturesRoot, folder);
}

export function haveFixture(folder: string): boolean {
  return existsSync(join(fixtureDir(folder), 'manifest.json'));
}

export function readManifest(folder: string): Manifest {
  return JSON.parse(readFileSync(join(fixtureDir(folder), 'manifest.json'), 'utf8')) as Manifest;
}

export function readFixtureTensor(folder: string, t: ManifestTensor): Float32Array | BigInt64Array {
  const b = readFileSync(join(fixtureDir(folder), t.file));
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return t.dtype === 'int64' ? new BigInt64Array(copy.buffer) : new Float32Array(copy.buffer);
}

/** Largest absolute difference between two float arrays (Infinity on length mismatch). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Run a model (bytes or path) on a fixture model's manifest inputs; returns the max abs
 * difference to the reference output per output name.
 */
export async function compareWithReference(model: Uint8Array | string, folder: string, name: string): Promise<Record<string, number>> {
  const ort = await import('onnxruntime-node');
  const m = readManifest(folder).models[name]!;
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [k, t] of Object.entries(m.inputs)) feeds[k] = new ort.Tensor(t.dtype, readFixtureTensor(folder, t), t.shape);
  const out = await session.run(feeds);
  const res: Record<string, number> = {};
  for (const [k, t] of Object.entries(m.outputs)) {
    const got = out[k];
    if (!got) throw new Error(`model has no output ${k}`);
    if (got.dims.join(',') !== t.shape.join(',')) {
      res[k] = Infinity;
      continue;
    }
    res[k] = maxAbsDiff(got.data as Float32Array, readFixtureTensor(folder, t) as Float32Array);
  }
  await session.release();
  return res;
}

/**
 * Run `model` in onnxruntime with every node output exposed as a graph output; returns the
 * actual dims and onnxruntime type name of each value (to check shape inference against the runtime).
 * @param dtypes value name -> ONNX dtype (from inferred valueInfo) for the extra outputs
 */
export async function runtimeShapes(
  encode: (m: import('../../../../src/main/engine/onnx/ir.js').Model) => Uint8Array,
  model: import('../../../../src/main/engine/onnx/ir.js').Model,
  feeds: Record<string, { dtype: string; data: ArrayLike<number> | BigInt64Array; dims: number[] }>,
): Promise<Map<string, { dims: number[]; type: string }>> {
  const ort = await import('onnxruntime-node');
  const { cloneModel } = await import('../../../../src/main/engine/onnx/clone.js');
  const m = cloneModel(model);
  const seen = new Set(m.graph.outputs.map((o) => o.name));
  for (const n of m.graph.nodes) {
    for (const o of n.outputs) {
      if (o === '' || seen.has(o)) continue;
      const vi = m.graph.valueInfo.get(o);
      if (!vi || vi.dtype === 0) continue;
      seen.add(o);
      m.graph.outputs.push({ name: o, dtype: vi.dtype });
    }
  }
  const session = await ort.InferenceSession.create(encode(m));
  const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [k, f] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(f.dtype as 'float32', f.data as Float32Array, f.dims);
  const out = await session.run(ortFeeds);
  const res = new Map<string, { dims: number[]; type: string }>();
  for (const [k, t] of Object.entries(out)) res.set(k, { dims: [...t.dims], type: t.type });
  await session.release();
  return res;
}
