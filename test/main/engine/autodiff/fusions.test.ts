import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import type { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { buildVjp } from '../../../../src/main/engine/autodiff/vjp.js';
import { buildForward, checkGradient } from './fd.js';
import { runModel, tensor, toNumbers } from './ort.js';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel, readModel } from '../../../../src/main/engine/onnx/model-io.js';

const D = DataType.DOUBLE;

/** softmax(Q K^T * c) V with Q [2,3,5,4], K [2,3,6,4], V [2,3,6,2]. */
function attention(b: GraphBuilder, x: Record<string, string>, exposeP = false): string | string[] {
  const s = b.op('Mul', [b.op('MatMul', [x.q!, b.transpose(x.k!, [0, 1, 3, 2])]), b.scalar(0.5, D)]);
  const p = b.op('Softmax', [s], { axis: -1 });
  const o = b.op('MatMul', [p, x.v!]);
  return exposeP ? [o, b.op('Sin', [p])] : o;
}

const inputs = { q: { shape: [2, 3, 5, 4] }, k: { shape: [2, 3, 6, 4] }, v: { shape: [2, 3, 6, 2] } };

describe('attention-core fusion (Softmax -> MatMul)', () => {
  it('is applied to a Softmax whose only consumer is the MatMul, and matches finite differences', async () => {
    const r = await checkGradient({ inputs, build: attention, wrt: ['q', 'k', 'v'] });
    expect(r.report.rulesUsed['Softmax']).toBe(1);
    const docs = r.vjpModel.graph.nodes.map((n) => n.docString ?? '');
    expect(docs.some((d) => d.startsWith('vjp of attention core'))).toBe(true);
  });

  it('matches the per-op rules and reads the attention matrix fewer times', async () => {
    const { model, feeds } = await buildForward({ inputs, build: attention });
    const fused = buildVjp(model, { wrt: ['q', 'k', 'v'] });
    const plain = buildVjp(model, { wrt: ['q', 'k', 'v'], fuse: false });
    expect(plain.model.graph.nodes.some((n) => n.docString?.startsWith('vjp of attention core'))).toBe(false);
    const p = model.graph.nodes.find((n) => n.opType === 'Softmax')!.outputs[0]!;
    const readers = (m: typeof model) => m.graph.nodes.slice(model.graph.nodes.length).filter((n) => n.inputs.includes(p)).length;
    expect(readers(fused.model)).toBeLessThan(readers(plain.model));
    const cot = {
      [fused.cotangentInputs[model.graph.outputs[0]!.name]!]: tensor(
        D,
        [2, 3, 5, 2],
        Array.from({ length: 60 }, (_v, i) => Math.sin(i)),
      ),
    };
    const a = await runModel(fused.model, { ...feeds, ...cot });
    const b = await runModel(plain.model, { ...feeds, ...cot });
    for (const w of ['q', 'k', 'v']) {
      const x = toNumbers(a[`${w}_grad`]!),
        y = toNumbers(b[`${w}_grad`]!);
      x.forEach((xi, i) => expect(Math.abs(xi - y[i]!)).toBeLessThan(1e-12));
    }
  });

  it('gradient only w.r.t. V (Softmax input off the path) and only w.r.t. Q', async () => {
    await checkGradient({ inputs, build: attention, wrt: ['v'] });
    await checkGradient({ inputs, build: attention, wrt: ['q'] });
  });

  it('is not applied when the softmax output has another use', async () => {
    const r = await checkGradient({ inputs, build: (b, x) => attention(b, x, true), wrt: ['q', 'v'] });
    expect(r.vjpModel.graph.nodes.some((n) => n.docString?.startsWith('vjp of attention core'))).toBe(false);
  });

  it('is not applied when the softmax is over another axis, or P is broadcast by the MatMul', async () => {
    const r = await checkGradient({
      inputs: { s: { shape: [3, 4] }, v: { shape: [2, 4, 2] } },
      build: (b, x) => b.op('MatMul', [b.op('Softmax', [x.s!], { axis: -1 }), x.v!]),
      wrt: ['s', 'v'],
    });
    expect(r.vjpModel.graph.nodes.some((n) => n.docString?.startsWith('vjp of attention core'))).toBe(false);
    const r2 = await checkGradient({
      inputs: { s: { shape: [2, 4, 3] }, v: { shape: [2, 3, 2] } },
      build: (b, x) => b.op('MatMul', [b.op('Softmax', [x.s!], { axis: 1 }), x.v!]),
      wrt: ['s'],
    });
    expect(r2.vjpModel.graph.nodes.some((n) => n.docString?.startsWith('vjp of attention core'))).toBe(false);
  });

  it('legacy Softmax (opset 11, axis = last) is fused too', async () => {
    const r = await checkGradient({
      opset: 11,
      inputs: { s: { shape: [2, 3, 4] }, v: { shape: [2, 4, 2] } },
      build: (b, x) => b.op('MatMul', [b.op('Softmax', [x.s!], { axis: 2 }), x.v!]),
      wrt: ['s', 'v'],
    });
    expect(r.vjpModel.graph.nodes.some((n) => n.docString?.startsWith('vjp of attention core'))).toBe(true);
  });
});

const fusedSilu = (m: { graph: { nodes: { docString?: string }[] } }) => m.graph.nodes.some((n) => n.docString?.startsWith('vjp of silu'));

describe('SiLU / quick-GELU fusion (x * Sigmoid(a x))', () => {
  it('SiLU, both operand orders, matches finite differences', async () => {
    for (const swap of [false, true]) {
      // float32: onnxruntime fuses x*sigmoid(x) into QuickGelu, which has no double kernel
      const r = await checkGradient({
        dtype: DataType.FLOAT,
        inputs: { x: { shape: [2, 3, 4], min: -3, max: 3 } },
        build: (b, x) => {
          const s = b.op('Sigmoid', [x.x!]);
          return b.op('Sin', [b.op('Mul', swap ? [s, x.x!] : [x.x!, s])]);
        },
        wrt: ['x'],
      });
      expect(fusedSilu(r.vjpModel)).toBe(true);
      expect(r.report.rulesUsed['Sigmoid']).toBe(1);
    }
  });

  it('quick GELU x * sigmoid(1.702 x)', async () => {
    const r = await checkGradient({
      dtype: DataType.FLOAT,
      inputs: { x: { shape: [5, 4], min: -3, max: 3 } },
      build: (b, x) => b.op('Mul', [x.x!, b.op('Sigmoid', [b.op('Mul', [b.scalar(1.702, DataType.FLOAT), x.x!])])]),
      wrt: ['x'],
    });
    expect(fusedSilu(r.vjpModel)).toBe(true);
    expect(r.report.differentiatedNodes).toBe(3);
  });

  it('not applied when the sigmoid output has another use or x is broadcast', async () => {
    const r = await checkGradient({
      inputs: { x: { shape: [2, 3] } },
      build: (b, x) => {
        const s = b.op('Sigmoid', [x.x!]);
        return [b.op('Mul', [x.x!, s]), b.op('Cos', [s])];
      },
      wrt: ['x'],
    });
    expect(fusedSilu(r.vjpModel)).toBe(false);
    const r2 = await checkGradient({
      inputs: { x: { shape: [3] }, y: { shape: [2, 3] } },
      build: (b, x) => b.op('Mul', [x.x!, b.op('Sigmoid', [b.op('Add', [x.y!, x.x!])])]),
      wrt: ['x', 'y'],
    });
    expect(fusedSilu(r2.vjpModel)).toBe(false);
  });

  it('keeps the forward pair fusable by onnxruntime (QuickGelu in the optimised VJP graph)', async () => {
    const { model } = await buildForward({
      dtype: DataType.FLOAT,
      inputs: { x: { shape: [2, 8] } },
      build: (b, x) => b.op('Tanh', [b.op('Mul', [x.x!, b.op('Sigmoid', [x.x!])])]),
    });
    const dir = mkdtempSync(join(tmpdir(), 'silu-'));
    try {
      const count = async (fuse: boolean): Promise<number> => {
        const path = join(dir, `opt-${fuse}.onnx`);
        const s = await ort.InferenceSession.create(encodeModel(buildVjp(model, { wrt: ['x'], fuse }).model), {
          graphOptimizationLevel: 'all',
          optimizedModelFilePath: path,
          logSeverityLevel: 3,
        });
        await s.release();
        return (await readModel(path)).graph.nodes.filter((n) => n.opType === 'QuickGelu').length;
      };
      expect(await count(true)).toBe(1);
      expect(await count(false)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const fusedGelu = (m: { graph: { nodes: { docString?: string }[] } }) => m.graph.nodes.some((n) => n.docString?.startsWith('vjp of gelu'));

/** 0.5 * x * (1 + erf(x / sqrt 2)) in the exporter's form, or variants (Mul by 1/sqrt 2, swapped operands). */
function gelu(b: GraphBuilder, x: string, variant: 'div' | 'mul' | 'swapped'): string {
  const F = DataType.FLOAT;
  const d = variant === 'div' ? b.op('Div', [x, b.scalar(Math.SQRT2, F)]) : b.op('Mul', [b.scalar(Math.SQRT1_2, F), x]);
  const e = b.op('Erf', [d]);
  const a = variant === 'swapped' ? b.op('Add', [b.scalar(1, F), e]) : b.op('Add', [e, b.scalar(1, F)]);
  const m = variant === 'swapped' ? b.op('Mul', [a, x]) : b.op('Mul', [x, a]);
  return variant === 'swapped' ? b.op('Mul', [b.scalar(0.5, F), m]) : b.op('Mul', [m, b.scalar(0.5, F)]);
}

describe('GELU fusion (x * (erf(x / sqrt 2) + 1) * 0.5)', () => {
  it('exporter form and variants match finite differences', async () => {
    for (const variant of ['div', 'mul', 'swapped'] as const) {
      // float32: onnxruntime has no double Erf kernel
      const r = await checkGradient({
        label: `gelu ${variant}`,
        dtype: DataType.FLOAT,
        inputs: { x: { shape: [2, 3, 4], min: -3, max: 3 } },
        build: (b, x) => b.op('Mul', [gelu(b, x.x!, variant), x.x!]),
        wrt: ['x'],
      });
      expect(fusedGelu(r.vjpModel)).toBe(true);
      expect(r.report.rulesUsed['Erf']).toBe(1);
      expect(r.report.emittedOps).not.toHaveProperty('Neg');
    }
  });

  it('not applied when an intermediate has another use', async () => {
    const r = await checkGradient({
      dtype: DataType.FLOAT,
      inputs: { x: { shape: [2, 3], min: -2, max: 2 } },
      build: (b, x) => {
        const e = b.op('Erf', [b.op('Div', [x.x!, b.scalar(Math.SQRT2, DataType.FLOAT)])]);
        const y = b.op('Mul', [b.op('Mul', [x.x!, b.op('Add', [e, b.scalar(1, DataType.FLOAT)])]), b.scalar(0.5, DataType.FLOAT)]);
        return [y, b.op('Sin', [e])];
      },
      wrt: ['x'],
    });
    expect(fusedGelu(r.vjpModel)).toBe(false);
  });

  it('uses the graph constants (any h x (a + erf(k x)), e.g. fp16-rounded sqrt 2)', async () => {
    const r = await checkGradient({
      dtype: DataType.FLOAT,
      inputs: { x: { shape: [2, 5], min: -2, max: 2 } },
      build: (b, x) => {
        const e = b.op('Erf', [b.op('Div', [x.x!, b.scalar(1.4140625, DataType.FLOAT)])]);
        return b.op('Mul', [b.scalar(0.75, DataType.FLOAT), b.op('Mul', [b.op('Add', [b.scalar(0.5, DataType.FLOAT), e]), x.x!])]);
      },
      wrt: ['x'],
    });
    expect(fusedGelu(r.vjpModel)).toBe(true);
  });

  it('keeps the forward chain fusable by onnxruntime (Gelu in the optimised VJP graph)', async () => {
    const { model } = await buildForward({
      dtype: DataType.FLOAT,
      inputs: { x: { shape: [2, 8] } },
      build: (b, x) => b.op('Tanh', [gelu(b, x.x!, 'div')]),
    });
    const dir = mkdtempSync(join(tmpdir(), 'gelu-'));
    try {
      const count = async (fuse: boolean): Promise<number> => {
        const path = join(dir, `opt-${fuse}.onnx`);
        const s = await ort.InferenceSession.create(encodeModel(buildVjp(model, { wrt: ['x'], fuse }).model), {
          graphOptimizationLevel: 'extended',
          optimizedModelFilePath: path,
          logSeverityLevel: 3,
        });
        await s.release();
        return (await readModel(path)).graph.nodes.filter((n) => n.opType === 'Gelu').length;
      };
      expect(await count(true)).toBe(1);
      expect(await count(false)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
