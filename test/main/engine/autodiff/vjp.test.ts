import { describe, it, expect } from 'vitest';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType, float32ToHalfArray, halfArrayToFloat32 } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel } from '../../../../src/main/engine/onnx/ir.js';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { MissingGradRuleError } from '../../../../src/main/engine/autodiff/rule.js';
import { buildVjp } from '../../../../src/main/engine/autodiff/vjp.js';
import { buildForward, checkGradient, rng } from './fd.js';
import { createSession, tensor, toNumbers } from './ort.js';

const F = DataType.FLOAT;

/** y = MatMul(x, W) + c ; z = Sin(y) ; k = Exp(q)  (q is an unrelated input) */
async function smallModel() {
  return buildForward({
    dtype: F,
    inputs: { x: { shape: [2, 3] }, q: { shape: [4] } },
    build: (b, x) => {
      const w = b.initializer(
        'W',
        F,
        [3, 5],
        Array.from({ length: 15 }, (_v, i) => Math.sin(i)),
      );
      const c = b.initializer('c', F, [5], [0.1, 0.2, 0.3, 0.4, 0.5]);
      const y = b.op('Add', [b.op('MatMul', [x.x!, w]), c]);
      return [b.op('Sin', [y], {}, { outputNames: ['z'] }), b.op('Exp', [x.q!], {}, { outputNames: ['k'] })];
    },
  });
}

describe('buildVjp contract', () => {
  it('inputs = originals + <output>_cotangent, outputs = originals + <wrt>_grad, forward values unchanged', async () => {
    const { model, feeds } = await smallModel();
    const r = buildVjp(model, { wrt: ['x'] });
    expect(r.model.graph.inputs.map((v) => [v.name, v.shape])).toEqual([
      ['x', [2, 3]],
      ['q', [4]],
      ['z_cotangent', [2, 5]],
      ['k_cotangent', [4]],
    ]);
    expect(r.model.graph.outputs.map((v) => [v.name, v.shape])).toEqual([
      ['z', [2, 5]],
      ['k', [4]],
      ['x_grad', [2, 3]],
    ]);
    expect(r.cotangentInputs).toEqual({ z: 'z_cotangent', k: 'k_cotangent' });
    expect(r.gradOutputs).toEqual({ x: 'x_grad' });
    // the input model is untouched
    expect(model.graph.inputs.length).toBe(2);
    expect(model.graph.nodes.length).toBe(r.report.nodesBefore);

    const fwd = await createSession(model);
    const a = await fwd.run(feeds);
    const vs = await createSession(r.model);
    const rand = rng(3);
    const b = await vs.run({
      ...feeds,
      z_cotangent: tensor(F, [2, 5], Array.from({ length: 10 }, rand)),
      k_cotangent: tensor(F, [4], [1, 2, 3, 4]),
    });
    expect(toNumbers(b['z']!)).toEqual(toNumbers(a['z']!));
    expect(toNumbers(b['k']!)).toEqual(toNumbers(a['k']!));
  });

  it('prunes: only the path wrt -> output gets gradient nodes; frozen weights get no gradient product', async () => {
    const { model } = await smallModel();
    const r = buildVjp(model, { wrt: ['x'] });
    // Sin, Add, MatMul differentiated; Exp (only reachable from q) is not
    expect(r.report.rulesUsed).toEqual({ Sin: 1, Add: 1, MatMul: 1 });
    expect(r.report.differentiatedNodes).toBe(3);
    // exactly one matrix product in the gradient (dx = g W^T, as MatMul or Gemm), none for dW
    expect((r.report.emittedOps['MatMul'] ?? 0) + (r.report.emittedOps['Gemm'] ?? 0)).toBe(1);
    expect(r.report.emittedOps['Exp']).toBeUndefined();
    expect(r.report.nodesAfter).toBe(r.report.nodesBefore + Object.values(r.report.emittedOps).reduce((a, b) => a + b, 0));
    expect(r.report.families['elementwise']?.sort()).toEqual(['Add', 'Sin']);
  });

  it('the transform skips operands that need no gradient and sums broadcast gradients back', async () => {
    const { model } = await buildForward({
      dtype: F,
      inputs: { a: { shape: [2, 3] } },
      build: (b, x) => b.op('Mul', [x.a!, b.initializer('w', F, [3], [1, 2, 3])]),
    });
    // w frozen: its product g*a is never emitted
    expect(buildVjp(model, { wrt: ['a'] }).report.emittedOps).toEqual({ Mul: 1, Identity: 1 });
    // w differentiated: g*a has a's shape [2, 3]; the transform sums it to [3] (ReduceSum keepdims + Reshape)
    expect(buildVjp(model, { wrtInitializers: ['w'] }).report.emittedOps).toEqual({ Mul: 1, ReduceSum: 1, Reshape: 1, Identity: 1 });
  });

  it('differentiates with respect to initializers (weights) and inputs together', async () => {
    const { checks } = await checkGradient({
      dtype: F,
      inputs: { x: { shape: [2, 3] } },
      build: (b, x) =>
        b.op('Tanh', [
          b.op('MatMul', [
            x.x!,
            b.initializer(
              'W',
              F,
              [3, 4],
              Array.from({ length: 12 }, (_v, i) => Math.cos(i)),
            ),
          ]),
        ]),
      wrt: ['x'],
      wrtInitializers: ['W'],
    });
    expect(checks.map((c) => c.name)).toEqual(['x', 'W']);
  });

  it('restricts to the requested outputs', async () => {
    const { model } = await smallModel();
    const r = buildVjp(model, { wrt: ['x'], outputs: ['z'] });
    expect(Object.keys(r.cotangentInputs)).toEqual(['z']);
    expect(r.model.graph.inputs.map((v) => v.name)).toEqual(['x', 'q', 'z_cotangent']);
  });

  it('errors: unknown wrt lists the inputs; initializer given as input and vice versa', async () => {
    const { model } = await smallModel();
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as EngineError;
      }
      throw new Error('expected an error');
    };
    const e1 = err(() => buildVjp(model, { wrt: ['nope'] }));
    expect(e1).toBeInstanceOf(EngineError);
    expect(e1.code).toBe('INVALID_ARGUMENT');
    expect(e1.message).toMatch(/'nope' is not a graph input.*x \(FLOAT\), q \(FLOAT\)/);
    expect(err(() => buildVjp(model, { wrt: ['W'] })).message).toMatch(/'W' is an initializer: use wrtInitializers/);
    expect(err(() => buildVjp(model, { wrtInitializers: ['x'] })).message).toMatch(/'x' is a graph input/);
    expect(err(() => buildVjp(model, { wrtInitializers: ['Wx'] })).message).toMatch(/not found.*W/);
    expect(err(() => buildVjp(model, {})).message).toMatch(/nothing to differentiate/);
  });

  it('errors: wrt that does not reach the differentiated outputs (never a silent zero)', async () => {
    const { model } = await smallModel();
    expect(() => buildVjp(model, { wrt: ['q'], outputs: ['z'] })).toThrow(/'q' does not influence output 'z'/);
  });

  it('integer paths are not differentiated: a wrt reaching the output only through Shape/Cast-to-int is rejected', async () => {
    const { model } = await buildForward({
      dtype: F,
      inputs: { x: { shape: [2, 3] }, y: { shape: [2, 3] } },
      build: (b, x) => {
        const n = b.cast(b.cast(b.op('Shape', [x.x!]), DataType.INT32), F);
        const r = b.cast(b.cast(x.x!, DataType.INT64), F);
        return b.op('Add', [b.op('Mul', [x.y!, b.op('ReduceSum', [n], { keepdims: 0 })]), r]);
      },
    });
    expect(() => buildVjp(model, { wrt: ['x'] })).toThrow(/'x' does not influence/);
    const r = buildVjp(model, { wrt: ['y'] });
    expect(r.report.rulesUsed).toEqual({ Add: 1, Mul: 1 });
  });

  it('errors: integer-typed wrt', async () => {
    const { model } = await buildForward({
      inputs: { ids: { shape: [3], dtype: DataType.INT64, data: [0, 1, 1] } },
      build: (b, x) => b.op('Gather', [b.initializer('table', DataType.DOUBLE, [2, 2], [1, 2, 3, 4]), x.ids!]),
    });
    expect(() => buildVjp(model, { wrt: ['ids'] })).toThrow(
      /integer\/non-float type INT64.*embedding table 'table'.*--wrt-initializer table/,
    );
    expect(buildVjp(model, { wrtInitializers: ['table'] }).gradOutputs).toEqual({ table: 'table_grad' });
  });

  it('errors: op without a rule names the op, the node and what to do', async () => {
    const { model } = await buildForward({
      dtype: F,
      inputs: { x: { shape: [2, 3] } },
      build: (b, x) => b.op('Sin', [b.op('Hardmax', [x.x!], {}, { name: 'my_hardmax' })]),
    });
    let e: unknown;
    try {
      buildVjp(model, { wrt: ['x'] });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(MissingGradRuleError);
    expect((e as MissingGradRuleError).code).toBe('MISSING_GRAD_RULE');
    expect((e as Error).message).toMatch(
      /no gradient rule for op Hardmax \(node 'my_hardmax'\).*Add a rule in src\/main\/engine\/autodiff\/rules/,
    );
  });

  it('errors: symbolic input dims ask for specialisation', () => {
    const g = emptyGraph();
    const b = new GraphBuilder(g, 17);
    b.addInput('x', F, ['batch', 3]);
    const y = b.op('Sin', ['x']);
    b.addOutput(y, F, ['batch', 3]);
    expect(() => buildVjp(emptyModel(17, g), { wrt: ['x'] })).toThrow(/symbolic dims \(batch\).*specialise\(model, shapes\).*--shape x=/);
  });

  it('constant cotangent for a scalar output needs no cotangent input', async () => {
    const { model, feeds, values } = await buildForward({
      inputs: { x: { shape: [3] } },
      build: (b, x) => b.op('ReduceSum', [b.op('Mul', [x.x!, x.x!])], { keepdims: 0 }),
    });
    const out = model.graph.outputs[0]!.name;
    const r = buildVjp(model, { wrt: ['x'], constantCotangents: [out] });
    expect(r.cotangentInputs).toEqual({});
    const s = await createSession(r.model);
    const res = await s.run(feeds);
    expect([...toNumbers(res['x_grad']!)]).toEqual([...values.get('x')!].map((v) => 2 * v));
  });

  it('fp16 graphs keep fp16: gradient values and constants are fp16, result close to the fp32 graph', async () => {
    const H = DataType.FLOAT16;
    const rand = rng(11);
    const xs = Array.from({ length: 12 }, () => rand() * 2 - 1);
    const ws = Array.from({ length: 12 }, () => rand() * 2 - 1);
    const build = (dt: DataType) => async () =>
      buildForward({
        dtype: dt,
        inputs: { x: { shape: [3, 4], data: dt === H ? Array.from(float32ToHalfArray(xs)) : xs } },
        build: (b, x) => {
          const w = b.initializer('W', dt, [4, 3], dt === H ? float32ToHalfArray(ws) : ws);
          const h = b.op('Sigmoid', [b.op('MatMul', [x.x!, w])]);
          return b.op('Mul', [b.op('Sqrt', [b.op('Add', [h, b.scalar(1, dt)])]), b.scalar(0.5, dt)]);
        },
      });
    const half = await build(H)();
    const full = await build(F)();
    const rh = buildVjp(half.model, { wrt: ['x'] });
    const rf = buildVjp(full.model, { wrt: ['x'] });
    expect(rh.model.graph.outputs.find((o) => o.name === 'x_grad')!.dtype).toBe(H);
    // every constant the gradient introduced is fp16 (no silent fp32 islands needing Casts)
    const added = [...rh.model.graph.initializers.values()].filter(
      (t) => !half.model.graph.initializers.has(t.name) && t.dtype !== DataType.INT64,
    );
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((t) => t.dtype === H)).toBe(true);
    expect(rh.report.emittedOps['Cast']).toBeUndefined();

    const cot = Array.from({ length: 9 }, () => rand() * 2 - 1);
    const sh = await createSession(rh.model);
    const gh = await sh.run({
      ...half.feeds,
      [rh.cotangentInputs[half.model.graph.outputs[0]!.name]!]: tensor(H, [3, 3], float32ToHalfArray(cot)),
    });
    const sf = await createSession(rf.model);
    const gf = await sf.run({ ...full.feeds, [rf.cotangentInputs[full.model.graph.outputs[0]!.name]!]: tensor(F, [3, 3], cot) });
    const a = halfArrayToFloat32(gh['x_grad']!.data as Uint16Array);
    const b = toNumbers(gf['x_grad']!);
    const scale = Math.max(...b.map(Math.abs));
    for (let i = 0; i < 12; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(2e-2 * scale);
  });
});

describe('checkGradient harness', () => {
  it('detects a wrong gradient', async () => {
    // plant a bug in the VJP of sin (cos replaced by sin) and expect the check to fail
    const spec = { inputs: { a: { shape: [4] } }, build: (b: GraphBuilder, x: Record<string, string>) => b.op('Sin', [x.a!]), wrt: ['a'] };
    await expect(
      checkGradient({
        ...spec,
        tamper: (m) => {
          const n = m.graph.nodes.find((k) => k.opType === 'Cos');
          n!.opType = 'Sin';
        },
      }),
    ).rejects.toThrow(/disagrees with finite differences/);
    await expect(checkGradient(spec)).resolves.toBeTruthy();
  });
});
