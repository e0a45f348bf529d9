import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  writeFileSync,
  lstatSync,
  statSync,
  readdirSync,
  existsSync,
  unlinkSync,
  mkdirSync,
  rmSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { GraphBuilder, makeTensor } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Graph, type Model } from '../../../../src/main/engine/onnx/ir.js';
import {
  decodeModel,
  encodeModel,
  readModel,
  serializeForSession,
  setSessionTempDir,
  sweepSessionTemps,
  tensorValues,
  writeModel,
} from '../../../../src/main/engine/onnx/model-io.js';
import { trackedTempPaths } from '../../../../src/main/engine/io/temp-files.js';
import { deadPid } from '../io/fs-fixtures.js';
import { compareWithReference, fixtureDir, fixtureFolders, haveFixture } from './peer-fixtures.js';

/** A canonical JSON of the IR with tensor bytes replaced by digests (fast equality of big models). */
function digest(model: Model): string {
  const h = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');
  const graph = (g: Graph): unknown => ({
    name: g.name,
    inputs: g.inputs,
    outputs: g.outputs,
    init: [...g.initializers.values()].map((t) => ({ ...t, raw: t.raw && h(t.raw), strings: t.strings?.map(h) })),
    nodes: g.nodes.map((n) => ({
      ...n,
      attrs: Object.fromEntries(
        Object.entries(n.attrs).map(([k, a]) => [
          k,
          a.kind === 'tensor' ? { ...a.value, raw: a.value.raw && h(a.value.raw) } : a.kind === 'graph' ? graph(a.value) : a,
        ]),
      ),
    })),
    vi: [...g.valueInfo.values()],
  });
  const { graph: g, baseDir: _b, functionsRaw, ...rest } = model;
  return JSON.stringify({ ...rest, graph: graph(g), functions: functionsRaw?.map(h) });
}

function expectInvalid(fn: () => unknown, ...fragments: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('INVALID_MODEL');
    for (const f of fragments) expect((e as Error).message).toContain(f);
    return;
  }
  throw new Error('expected an INVALID_MODEL error');
}

async function expectInvalidAsync(p: Promise<unknown>, ...fragments: string[]): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EngineError);
  expect((e as EngineError).code).toBe('INVALID_MODEL');
  for (const f of fragments) expect((e as Error).message).toContain(f);
}

describe.each(fixtureFolders)('fixture round trip %s', (folder) => {
  const present = haveFixture(folder);
  it.skipIf(!present).each(['unet', 'vae_decoder', 'text_encoder'])('%s: decode -> encode -> decode is lossless and runs', async (name) => {
    const model = await readModel(join(fixtureDir(folder), `${name}.onnx`));
    expect(model.baseDir).toBe(fixtureDir(folder));
    expect(model.graph.nodes.length).toBeGreaterThan(100);
    const bytes = encodeModel(model);
    const again = decodeModel(bytes);
    expect(digest(again)).toBe(digest(model));
    // Encoding is deterministic.
    expect(createHash('sha1').update(encodeModel(again)).digest('hex')).toBe(createHash('sha1').update(bytes).digest('hex'));
    const diffs = await compareWithReference(bytes, folder, name);
    for (const d of Object.values(diffs)) expect(d).toBeLessThan(1e-5);
  });
  if (!present) it.skip(`fixtures absent at ${fixtureDir(folder)}`, () => {});
});

describe('invalid files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-io-invalid-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tiny = (() => {
    const g = emptyGraph('g');
    const b = new GraphBuilder(g, 17);
    b.addInput('x', DataType.FLOAT, [4]);
    const w = b.initializer('w', DataType.FLOAT, [4], [1, 2, 3, 4]);
    b.opN('Add', ['x', w], {}, { outputNames: ['y'] });
    b.addOutput('y', DataType.FLOAT, [4]);
    return encodeModel(emptyModel(17, g));
  })();

  it('a truncated file names the file and says it is truncated', async () => {
    for (const cut of [0.3, 0.6, 0.9]) {
      const p = join(dir, `cut-${cut}.onnx`);
      writeFileSync(p, tiny.subarray(0, Math.floor(tiny.length * cut)));
      await expectInvalidAsync(readModel(p), p, 'truncated');
    }
  });

  it.skipIf(!haveFixture('peer-a-opset14'))('a truncated real export is rejected', async () => {
    const bytes = readFileSync(join(fixtureDir('peer-a-opset14'), 'text_encoder.onnx'));
    const p = join(dir, 'te-cut.onnx');
    writeFileSync(p, bytes.subarray(0, bytes.length - 1000));
    await expectInvalidAsync(readModel(p), p, 're-download');
  });

  it('random bytes and text are not an ONNX model', () => {
    let seed = 1;
    for (let k = 0; k < 20; k++) {
      const junk = new Uint8Array(1000 + k * 37).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
      expectInvalid(() => decodeModel(junk, undefined, `junk${k}.onnx`), `junk${k}.onnx`, 'not an ONNX model');
    }
    expectInvalid(() => decodeModel(new TextEncoder().encode('<html>404 Not Found</html>'), undefined, 'page.onnx'), 'page.onnx');
    expectInvalid(() => decodeModel(new Uint8Array(0), undefined, 'empty.onnx'), 'empty.onnx');
  });

  it('a missing file is INVALID_MODEL naming it', async () => {
    await expectInvalidAsync(readModel(join(dir, 'nope.onnx')), 'nope.onnx');
  });
});

describe('tensor data encodings', () => {
  /** Hand-encodes a one-initializer model so typed *_data fields can be packed or not. */
  function modelWithTensor(
    dtype: DataType,
    dims: number[],
    field: number,
    wire: 'varint' | 'fixed32' | 'fixed64',
    values: (number | bigint)[],
    packed: boolean,
  ): Uint8Array {
    const W = protobuf.Writer;
    const t = W.create();
    for (const d of dims) t.uint32((1 << 3) | 0).int64(d);
    t.uint32((2 << 3) | 0).int32(dtype);
    t.uint32((8 << 3) | 2).string('t');
    const put = (w: protobuf.Writer, v: number | bigint) => {
      if (wire === 'varint')
        w.int64(
          typeof v === 'bigint' ? (protobuf.util.Long as unknown as { fromString(s: string): protobuf.Long }).fromString(v.toString()) : v,
        );
      else if (wire === 'fixed32') w.float(Number(v));
      else w.double(Number(v));
    };
    if (packed) {
      t.uint32((field << 3) | 2).fork();
      for (const v of values) put(t, v);
      t.ldelim();
    } else {
      const wt = wire === 'varint' ? 0 : wire === 'fixed32' ? 5 : 1;
      for (const v of values) {
        t.uint32((field << 3) | wt);
        put(t, v);
      }
    }
    const tensor = t.finish();
    const g = W.create();
    g.uint32((5 << 3) | 2).bytes(tensor);
    g.uint32((2 << 3) | 2).string('g');
    const m = W.create();
    m.uint32((1 << 3) | 0).int64(8);
    m.uint32((8 << 3) | 2)
      .fork()
      .uint32((2 << 3) | 0)
      .int64(17)
      .ldelim();
    m.uint32((7 << 3) | 2).bytes(g.finish());
    return m.finish();
  }

  it.each([true, false])('typed fields decode to raw (packed=%s)', (packed) => {
    const f = decodeModel(modelWithTensor(DataType.FLOAT, [3], 4, 'fixed32', [1.5, -2, 3.25], packed)).graph.initializers.get('t')!;
    expect(Array.from(tensorValues(f) as Float32Array)).toEqual([1.5, -2, 3.25]);
    const big = 9223372036854775807n;
    const i = decodeModel(modelWithTensor(DataType.INT64, [4], 7, 'varint', [1, -1, big, -big - 1n], packed)).graph.initializers.get('t')!;
    expect(Array.from(tensorValues(i) as BigInt64Array)).toEqual([1n, -1n, big, -big - 1n]);
    const h = decodeModel(modelWithTensor(DataType.FLOAT16, [2, 1], 5, 'varint', [0x3c00, 0xc000], packed)).graph.initializers.get('t')!;
    expect(h.dims).toEqual([2, 1]);
    expect(Array.from(tensorValues(h) as Uint16Array)).toEqual([0x3c00, 0xc000]);
    const b = decodeModel(modelWithTensor(DataType.BOOL, [3], 5, 'varint', [1, 0, 1], packed)).graph.initializers.get('t')!;
    expect(Array.from(b.raw!)).toEqual([1, 0, 1]);
    const d = decodeModel(modelWithTensor(DataType.DOUBLE, [2], 10, 'fixed64', [0.1, -7], packed)).graph.initializers.get('t')!;
    expect(Array.from(tensorValues(d) as Float64Array)).toEqual([0.1, -7]);
    const u = decodeModel(modelWithTensor(DataType.UINT64, [1], 11, 'varint', [12345], packed)).graph.initializers.get('t')!;
    expect(Array.from(tensorValues(u) as BigUint64Array)).toEqual([12345n]);
    const i8 = decodeModel(modelWithTensor(DataType.INT8, [2], 5, 'varint', [-5, 7], packed)).graph.initializers.get('t')!;
    expect(Array.from(tensorValues(i8) as Int8Array)).toEqual([-5, 7]);
  });

  it('int64 attributes keep INT64_MAX sentinels and negative values', () => {
    const g = emptyGraph('g');
    const b = new GraphBuilder(g, 9);
    b.addInput('x', DataType.FLOAT, [10]);
    b.opN('Slice', ['x'], { starts: [-3], ends: [2 ** 63], axes: [0] }, { outputNames: ['y'] });
    g.nodes[0]!.attrs.big = { kind: 'int', value: 2 ** 63 };
    b.addOutput('y', DataType.FLOAT, [3]);
    const again = decodeModel(encodeModel(emptyModel(9, g)));
    const n = again.graph.nodes[0]!;
    expect(n.attrs.starts).toEqual({ kind: 'ints', value: [-3] });
    expect(n.attrs.ends!.kind === 'ints' && n.attrs.ends!.value[0]).toBe(2 ** 63);
    expect(n.attrs.big).toEqual({ kind: 'int', value: 2 ** 63 });
  });

  it('keeps symbolic and unknown dims, string tensors, subgraphs and metadata', () => {
    const g = emptyGraph('main');
    const b = new GraphBuilder(g, 17);
    b.addInput('x', DataType.FLOAT, ['batch', 3, 'unk__0']);
    b.addInput('c', DataType.BOOL, []);
    const then = emptyGraph('then');
    then.nodes.push({
      name: 'k',
      opType: 'Constant',
      domain: '',
      inputs: [],
      outputs: ['t_out'],
      attrs: { value: { kind: 'tensor', value: makeTensor('v', DataType.FLOAT, [1], [1]) } },
    });
    then.outputs.push({ name: 't_out', dtype: DataType.FLOAT, shape: [1] });
    const els = structuredClone(then);
    els.name = 'else';
    b.opN('If', ['c'], { then_branch: { kind: 'graph', value: then }, else_branch: { kind: 'graph', value: els } }, { outputNames: ['y'] });
    b.addOutput('y', DataType.FLOAT, [1]);
    g.initializers.set('s', {
      name: 's',
      dtype: DataType.STRING,
      dims: [2],
      strings: [new TextEncoder().encode('a'), new TextEncoder().encode('bé')],
    });
    const model = emptyModel(17, g);
    model.metadata = { author: 'me' };
    const again = decodeModel(encodeModel(model));
    expect(digest(again)).toBe(digest(model));
    expect(again.graph.inputs[0]!.shape).toEqual(['batch', 3, 'unk__0']);
    expect(again.metadata).toEqual({ author: 'me' });
  });
});

describe('external data', () => {
  const work = mkdtempSync(join(tmpdir(), 'onnx-io-ext-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const g = emptyGraph('g');
  const b = new GraphBuilder(g, 17);
  b.addInput('x', DataType.FLOAT, [2, 64]);
  const w = b.initializer(
    'w',
    DataType.FLOAT,
    [64, 64],
    Array.from({ length: 4096 }, (_, i) => ((i * 37) % 11) - 5),
  );
  const bias = b.initializer(
    'bias',
    DataType.FLOAT,
    [64],
    Array.from({ length: 64 }, (_, i) => i / 8),
  );
  const small = b.initializer('small', DataType.FLOAT, [2], [0.5, 0.25]);
  const mm = b.op('MatMul', ['x', w]);
  const add = b.op('Add', [mm, bias]);
  const s = b.op('Slice', [add, b.int64s([0]), b.int64s([2]), b.int64s([1])]);
  b.opN('Mul', [s, small], {}, { outputNames: ['y'] });
  b.addOutput('y', DataType.FLOAT, [2, 2]);
  const model = emptyModel(17, g);
  const x = new Float32Array(128).map((_, i) => Math.sin(i));

  async function run(source: string | Uint8Array): Promise<Float32Array> {
    const sess = typeof source === 'string' ? await ort.InferenceSession.create(source) : await ort.InferenceSession.create(source);
    const out = await sess.run({ x: new ort.Tensor('float32', x, [2, 64]) });
    await sess.release();
    return out.y!.data as Float32Array;
  }

  it('writes, reads and runs a model whose weights are external, also after moving it', async () => {
    const expected = await run(encodeModel(model));
    const dirA = join(work, 'a');
    await writeModel(model, join(dirA, 'model.onnx'), { externalizeAbove: 1024, externalFile: 'weights.pb' });
    expect(readdirSync(dirA).sort()).toEqual(['model.onnx', 'weights.pb']);
    const readBack = await readModel(join(dirA, 'model.onnx'));
    const wt = readBack.graph.initializers.get(w)!;
    expect(wt.raw).toBeUndefined();
    expect(wt.external).toEqual({ location: 'weights.pb', offset: 0, length: 16384 });
    expect(readBack.graph.initializers.get(bias)!.raw).toBeDefined(); // 256 bytes stay inline
    expect(Array.from(tensorValues(wt, readBack.baseDir) as Float32Array).slice(0, 4)).toEqual([
      -5,
      -5 + (37 % 11),
      -5 + (74 % 11),
      -5 + (111 % 11),
    ]);
    expect(await run(join(dirA, 'model.onnx'))).toEqual(expected);

    // Written elsewhere: the data file is linked under the same relative location.
    const dirB = join(work, 'b', 'nested');
    await writeModel(readBack, join(dirB, 'edited.onnx'));
    expect(statSync(join(dirB, 'weights.pb')).ino).toBe(statSync(join(dirA, 'weights.pb')).ino);
    expect(await run(join(dirB, 'edited.onnx'))).toEqual(expected);
    // Writing again over the same folder is fine (link already there).
    await writeModel(readBack, join(dirB, 'edited.onnx'));

    // Forced copy also loads; forced symlink is refused by onnxruntime (documented limitation).
    const dirC = join(work, 'c');
    await writeModel(readBack, join(dirC, 'm.onnx'), { linkMode: 'copy' });
    expect(lstatSync(join(dirC, 'weights.pb')).isFile()).toBe(true);
    expect(await run(join(dirC, 'm.onnx'))).toEqual(expected);
    const dirD = join(work, 'd');
    await writeModel(readBack, join(dirD, 'm.onnx'), { linkMode: 'symlink' });
    expect(lstatSync(join(dirD, 'weights.pb')).isSymbolicLink()).toBe(true);
    await expect(run(join(dirD, 'm.onnx'))).rejects.toThrow(/escapes model directory|External data/);

    // serializeForSession writes next to the weights: no link or copy needed.
    const sm = await serializeForSession(readBack);
    expect(sm.bytes).toBeUndefined();
    expect(sm.path!.startsWith(dirA)).toBe(true);
    expect(await run(sm.path!)).toEqual(expected);
    await sm.dispose();
    expect(readdirSync(dirA).sort()).toEqual(['model.onnx', 'weights.pb']);
    const inline = await serializeForSession(model);
    expect(inline.bytes).toBeDefined();
    expect(await run(inline.bytes!)).toEqual(expected);
  });

  it('refuses to overwrite a different file where a data link must go', async () => {
    const dirA = join(work, 'e');
    await writeModel(model, join(dirA, 'model.onnx'), { externalizeAbove: 1024, externalFile: 'weights.pb' });
    const readBack = await readModel(join(dirA, 'model.onnx'));
    const dirF = join(work, 'f');
    mkdirSync(dirF, { recursive: true });
    writeFileSync(join(dirF, 'weights.pb'), 'something else');
    const err = await writeModel(readBack, join(dirF, 'model.onnx')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(readFileSync(join(dirF, 'weights.pb'), 'utf8')).toBe('something else');
  });

  it('a missing or short external data file is INVALID_MODEL naming it', async () => {
    const dirA = join(work, 'g');
    await writeModel(model, join(dirA, 'model.onnx'), { externalizeAbove: 1024 });
    expect(existsSync(join(dirA, 'model.onnx.data'))).toBe(true);
    writeFileSync(join(dirA, 'model.onnx.data'), new Uint8Array(100));
    await expectInvalidAsync(readModel(join(dirA, 'model.onnx')), 'model.onnx.data', 'truncated');
    unlinkSync(join(dirA, 'model.onnx.data'));
    await expectInvalidAsync(readModel(join(dirA, 'model.onnx')), 'model.onnx.data', 'missing');
    const m = decodeModel(readFileSync(join(dirA, 'model.onnx')), dirA);
    expectInvalid(() => tensorValues(m.graph.initializers.get(w)!, m.baseDir), 'model.onnx.data');
  });

  it('puts session models under the temp folder with hard links (same file system), nothing next to the weights', async () => {
    const expected = await run(encodeModel(model));
    const dirA = join(work, 'h', 'unet');
    await writeModel(model, join(dirA, 'model.onnx'), { externalizeAbove: 1024, externalFile: 'weights.pb' });
    const readBack = await readModel(join(dirA, 'model.onnx'));
    const temp = join(work, 'h-cache', 'tmp');
    const sm = await serializeForSession(readBack, { tempDir: temp });
    expect(sm.path!.startsWith(join(temp, `session-${process.pid}-`))).toBe(true);
    expect(statSync(join(sm.path!, '..', 'weights.pb')).ino).toBe(statSync(join(dirA, 'weights.pb')).ino);
    expect(trackedTempPaths()).toContain(join(sm.path!, '..'));
    expect(await run(sm.path!)).toEqual(expected);
    expect(readdirSync(dirA).sort()).toEqual(['model.onnx', 'weights.pb']);
    await sm.dispose();
    expect(readdirSync(temp)).toEqual([]);
    expect(trackedTempPaths()).not.toContain(join(sm.path!, '..'));
    // The process-wide default (the model-set loader sets the cache's tmp/).
    setSessionTempDir(temp);
    try {
      const sm2 = await serializeForSession(readBack);
      expect(sm2.path!.startsWith(temp)).toBe(true);
      await sm2.dispose();
    } finally {
      setSessionTempDir(undefined);
    }
  });

  it('sweeps session models that dead processes left next to the weights', async () => {
    const dirA = join(work, 'i');
    await writeModel(model, join(dirA, 'unet', 'model.onnx'), { externalizeAbove: 1024, externalFile: 'weights.pb' });
    const dead = deadPid();
    const left = [`.inversion-studio-${dead}-abc12345.onnx`, `.inversion-studio-${dead}-abc12345.onnx.data`];
    const live = `.inversion-studio-${process.pid}-zzz99999.onnx`;
    const old = new Date(Date.now() - 3600_000 * 2);
    for (const f of [...left, live]) {
      writeFileSync(join(dirA, 'unet', f), 'x');
      utimesSync(join(dirA, 'unet', f), old, old);
    }
    expect((await sweepSessionTemps(dirA)).sort()).toEqual(left.map((f) => `unet/${f}`).sort());
    expect(readdirSync(join(dirA, 'unet')).sort()).toEqual([live, 'model.onnx', 'weights.pb'].sort());
  });
});
