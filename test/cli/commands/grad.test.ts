import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { main } from '../../../src/cli/main.js';
import { GraphBuilder } from '../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../src/main/engine/onnx/ir.js';
import { writeModel } from '../../../src/main/engine/onnx/model-io.js';
import { fixtureDir, haveFixture, repoRoot } from '../../main/engine/onnx/peer-fixtures.js';
import { parseShapes } from '../../../src/cli/commands/grad.js';

const F = DataType.FLOAT;
let dir: string;

/** out[batch,3] = Tanh(x[batch,4] @ W) + sum_k table[ids[batch,k]] ; optional MaxPool branch on x. */
function testModel(withMaxPool = false): Model {
  const g = emptyGraph('cli_test');
  const b = new GraphBuilder(g, 17);
  b.addInput('x', F, ['batch', 4]);
  b.addInput('ids', DataType.INT64, ['batch', 2]);
  const w = b.initializer(
    'W',
    F,
    [4, 3],
    Array.from({ length: 12 }, (_v, i) => Math.sin(i + 1)),
  );
  const table = b.initializer(
    'table',
    F,
    [5, 3],
    Array.from({ length: 15 }, (_v, i) => Math.cos(i)),
  );
  let x = 'x';
  if (withMaxPool) {
    const x3 = b.reshape('x', [-1, 1, 4]);
    x = b.reshape(b.op('MaxPool', [x3], { kernel_shape: [1] }, { name: 'pool_node' }), [-1, 4]);
  }
  const y = b.op('Tanh', [b.op('MatMul', [x, w])]);
  const e = b.op('ReduceSum', [b.op('Gather', [table, 'ids']), b.int64s([1])], { keepdims: 0 });
  b.op('Add', [y, e], {}, { outputNames: ['out'] });
  b.addOutput('out', F, ['batch', 3]);
  return emptyModel(17, g);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await main(['grad', ...args]);
    return { code, out: log.mock.calls.map((c) => c.join(' ')).join('\n'), err: error.mock.calls.map((c) => c.join(' ')).join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'grad-cli-'));
  await writeModel(testModel(), join(dir, 'model.onnx'));
  await writeModel(testModel(true), join(dir, 'maxpool.onnx'));
  const bytes = readFileSync(join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'truncated.onnx'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  writeFileSync(join(dir, 'garbage.onnx'), Buffer.from('this is not a protobuf model at all \x00\xff\xfe'.repeat(20), 'latin1'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseShapes', () => {
  it('parses x-, ×- and comma-separated dims and scalars', () => {
    expect(parseShapes(['sample=1x4x64x64', 'ehs=1×77×768', 't=1,2', 's='])).toEqual({
      sample: [1, 4, 64, 64],
      ehs: [1, 77, 768],
      t: [1, 2],
      s: [],
    });
    expect(() => parseShapes(['sample:1x4'])).toThrow(/not INPUT=D0xD1/);
    expect(() => parseShapes(['a=1', 'a=2'])).toThrow(/given twice/);
  });
});

describe('inversion-studio grad', () => {
  it('writes the gradient model with the documented contract and prints what it did', async () => {
    const out = join(dir, 'out.onnx');
    const r = await cli([
      join(dir, 'model.onnx'),
      '--wrt',
      'x',
      '--wrt-initializer',
      'table,W',
      '--shape',
      'x=2x4',
      '--shape',
      'ids=2x2',
      '-o',
      out,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/nodes: \d+ forward -> \d+ forward\+VJP/);
    expect(r.out).toMatch(/rules used: .*Tanh×1/);
    expect(r.out).toMatch(/rules used: .*Gather×1/);
    expect(r.out).toMatch(/gradient outputs: x_grad FLOAT \[2,4\], table_grad FLOAT \[5,3\], W_grad FLOAT \[4,3\]/);
    const s = await ort.InferenceSession.create(out);
    expect(s.inputNames).toEqual(['x', 'ids', 'out_cotangent']);
    expect(s.outputNames).toEqual(['out', 'x_grad', 'table_grad', 'W_grad']);
    const res = await s.run({
      x: new ort.Tensor('float32', Float32Array.from([0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4]), [2, 4]),
      ids: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 4n, 0n]), [2, 2]),
      out_cotangent: new ort.Tensor('float32', new Float32Array(6).fill(1), [2, 3]),
    });
    // d/dtable of sum(out): row 1 is gathered twice, rows 0 and 4 once, rows 2, 3 never
    expect(Array.from(res['table_grad']!.data as Float32Array)).toEqual([1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    await s.release();
  });

  it('keeps external weights on disk: the output refers to the same data file (linked, not rewritten)', async () => {
    const src = join(dir, 'ext-src');
    await writeModel(testModel(), join(src, 'model.onnx'), { externalizeAbove: 16, externalFile: 'weights.pb' });
    const out = join(dir, 'ext-out', 'grad.onnx');
    const r = await cli([join(src, 'model.onnx'), '--wrt', 'x', '--shape', 'x=2x4', '--shape', 'ids=2x2', '-o', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const a = statSync(join(src, 'weights.pb'));
    const b = statSync(join(dir, 'ext-out', 'weights.pb'));
    expect(b.ino === a.ino || b.size === a.size).toBe(true);
    const s = await ort.InferenceSession.create(out);
    const res = await s.run({
      x: new ort.Tensor('float32', new Float32Array(8).fill(0.5), [2, 4]),
      ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n]), [2, 2]),
      out_cotangent: new ort.Tensor('float32', new Float32Array(6).fill(1), [2, 3]),
    });
    expect(res['x_grad']!.dims).toEqual([2, 4]);
    await s.release();
  });

  it('dims bound by another input need no --shape (batch from x)', async () => {
    const r = await cli([join(dir, 'model.onnx'), '--wrt', 'x', '--shape', 'x=3x4', '-o', join(dir, 'out2.onnx')]);
    expect(r.code).toBe(0);
  });

  it('garbage and truncated ONNX files fail clearly', async () => {
    for (const f of ['garbage.onnx', 'truncated.onnx']) {
      const r = await cli([join(dir, f), '--wrt', 'x', '-o', join(dir, 'never.onnx')]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/truncated or is not an ONNX model/);
    }
    const r = await cli([join(dir, 'missing.onnx'), '--wrt', 'x', '-o', join(dir, 'never.onnx')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/cannot read model file/);
    expect(existsSync(join(dir, 'never.onnx'))).toBe(false);
  });

  it('an op without a gradient rule names the op, the node and what to do', async () => {
    const r = await cli([join(dir, 'maxpool.onnx'), '--wrt', 'x', '--shape', 'x=2x4', '-o', join(dir, 'never.onnx')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no gradient rule for op MaxPool \(node 'pool_node'\).*Add a rule in src\/main\/engine\/autodiff\/rules/);
    // the same model is fine when the gradient does not need the pool branch
    const ok = await cli([join(dir, 'maxpool.onnx'), '--wrt-initializer', 'table', '--shape', 'x=2x4', '-o', join(dir, 'pool-ok.onnx')]);
    expect(ok.code).toBe(0);
  });

  it('--wrt not found, integer-typed --wrt, shapes contradicting the model', async () => {
    const m = join(dir, 'model.onnx');
    const o = join(dir, 'never.onnx');
    let r = await cli([m, '--wrt', 'y', '--shape', 'x=2x4', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/'y' is not a graph input.*x \(FLOAT\), ids \(INT64\)/);
    r = await cli([m, '--wrt', 'ids', '--shape', 'x=2x4', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/'ids'.*integer\/non-float type INT64/);
    r = await cli([m, '--wrt', 'x', '--shape', 'x=2x5', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/dim 1 must be 4/);
    r = await cli([m, '--wrt', 'x', '--shape', 'x=2x4x1', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/rank/);
    r = await cli([m, '--wrt', 'x', '--shape', 'x=2x4', '--shape', 'ids=3x2', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/'batch' is 2 in input 'x' but 3 in input 'ids'/);
    r = await cli([m, '--wrt', 'x', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/symbolic dims need a concrete shape.*--shape/);
    r = await cli([m, '--wrt', 'x', '--shape', 'nope=1', '-o', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no input 'nope'/);
    expect(existsSync(o)).toBe(false);
  });

  it('usage errors exit 2; --help exits 0', async () => {
    expect((await cli([join(dir, 'model.onnx'), '--wrt', 'x'])).code).toBe(2);
    expect((await cli([join(dir, 'model.onnx'), '-o', join(dir, 'x.onnx')])).code).toBe(2);
    expect((await cli(['--bogus'])).code).toBe(2);
    const h = await cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/<name>_grad/);
  });

  it.skipIf(!haveFixture('peer-a-opset17'))('works on the fixture UNet (skipped without ../shared/fixtures)', async () => {
    const r = await cli([
      join(fixtureDir('peer-a-opset17'), 'unet.onnx'),
      '--wrt',
      'sample,encoder_hidden_states',
      '--shape',
      'sample=1x4x16x16',
      '--shape',
      'encoder_hidden_states=1x77x32',
      '-o',
      join(dir, 'unet_grad.onnx'),
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/rules used: .*Conv×/);
    const s = await ort.InferenceSession.create(join(dir, 'unet_grad.onnx'));
    expect(s.inputNames).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'out_sample_cotangent']);
    expect(s.outputNames).toEqual(['out_sample', 'sample_grad', 'encoder_hidden_states_grad']);
    await s.release();
  });

  it('the package bin runs the command (node bin/inversion-studio.js grad …)', () => {
    const out = join(dir, 'bin-out.onnx');
    const p = spawnSync(
      process.execPath,
      [resolve(repoRoot, 'bin/inversion-studio.js'), 'grad', join(dir, 'model.onnx'), '--wrt', 'x', '--shape', 'x=1x4', '-o', out],
      {
        encoding: 'utf8',
        cwd: repoRoot,
      },
    );
    expect(p.stderr).not.toMatch(/Error/);
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/wrote .*bin-out\.onnx/);
    expect(existsSync(out)).toBe(true);
    const bad = spawnSync(
      process.execPath,
      [resolve(repoRoot, 'bin/inversion-studio.js'), 'grad', join(dir, 'garbage.onnx'), '--wrt', 'x', '-o', out],
      { encoding: 'utf8', cwd: repoRoot },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/not an ONNX model/);
  });
});
