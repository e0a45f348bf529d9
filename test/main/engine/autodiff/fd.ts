/**
 * Finite-difference gradient checks for gradient rules, run through onnxruntime-node.
 *
 * `checkGradient` builds a tiny forward model with the GraphBuilder, records every value's shape
 * by running it once in onnxruntime, transforms it with `buildVjp`, runs the VJP model with
 * random cotangents, and compares each requested gradient with central finite differences of
 * f(x) = sum_o <output_o(x), cotangent_o> computed from forward runs.
 *
 * Default element type is DOUBLE: with eps = 1e-6 the finite differences are accurate to ~1e-9,
 * so a tolerance of 1e-6 catches any real mistake. Ops without double kernels in onnxruntime
 * (Erf, Conv, Resize, InstanceNormalization, Mean, ...) are checked in FLOAT with eps = 1e-2 and a
 * percent-level tolerance; pass `dtype: DataType.FLOAT`.
 *
 * Usage (vitest):
 *   await checkGradient({
 *     inputs: { a: { shape: [2, 3] }, b: { shape: [3] } },
 *     build: (b, x) => b.op('Mul', [x.a!, x.b!]),
 *     wrt: ['a', 'b'],
 *   });
 * It throws an Error describing the worst element when a gradient disagrees.
 */
import type * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType, isFloatType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { buildVjp, type VjpReport } from '../../../../src/main/engine/autodiff/vjp.js';
import { annotateWithOrt, createSession, tensor, toNumbers, type Feeds } from './ort.js';

export interface FdInput {
  shape: number[];
  /** Default: the check's float dtype. */
  dtype?: DataType;
  /** Explicit values (row-major); default random uniform in [min, max]. */
  data?: ArrayLike<number>;
  /** Range of the random values (default [-1, 1]; integers are drawn in [min, max] inclusive). */
  min?: number;
  max?: number;
}

export interface CheckGradientSpec {
  /** Human-readable label for error messages. */
  label?: string;
  /** Graph inputs (created in this order before `build` runs). */
  inputs: Record<string, FdInput>;
  /**
   * Emit the forward graph. `x` maps input names to value names (identical). Return the
   * output value name(s); they become the graph outputs (types recorded by running the model).
   * Initializers created with `b.initializer('name', ...)` keep `name` if it is free.
   */
  build: (b: GraphBuilder, x: Record<string, string>) => string | string[];
  /** Graph inputs to differentiate. */
  wrt?: string[];
  /** Initializers to differentiate (their finite differences perturb the initializer). */
  wrtInitializers?: string[];
  /** ai.onnx opset (default 17). */
  opset?: number;
  /** Float element type of inputs without an explicit dtype (default DOUBLE). */
  dtype?: DataType;
  seed?: number;
  /** Finite-difference step (default 1e-6 double, 1e-2 float). */
  eps?: number;
  /** Tolerance relative to the largest reference magnitude (default 1e-6 double, 2e-2 float). */
  rtol?: number;
  atol?: number;
  /** Single elements probed per wrt tensor (all when smaller; default 40). */
  maxProbes?: number;
  /** Edit the VJP model before it runs (the harness's own tests use it to plant a bug). */
  tamper?: (vjpModel: Model) => void;
}

export interface WrtCheck {
  name: string;
  /** Largest |analytic - fd| over probed elements and random directions. */
  maxAbsErr: number;
  /** Largest |fd| seen (the scale the error is compared with). */
  scale: number;
  probes: number;
}

export interface CheckGradientResult {
  checks: WrtCheck[];
  report: VjpReport;
  model: Model;
  vjpModel: Model;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Build the forward model of a spec and record its value types with onnxruntime. */
export async function buildForward(spec: CheckGradientSpec): Promise<{ model: Model; feeds: Feeds; values: Map<string, Float64Array> }> {
  const opset = spec.opset ?? 17;
  const fdt = spec.dtype ?? DataType.DOUBLE;
  const rand = rng(spec.seed ?? 1234);
  const g = emptyGraph('gradcheck');
  const b = new GraphBuilder(g, opset);
  const names: Record<string, string> = {};
  const feeds: Feeds = {};
  const values = new Map<string, Float64Array>();
  for (const [name, inp] of Object.entries(spec.inputs)) {
    const dtype = inp.dtype ?? fdt;
    b.addInput(name, dtype, [...inp.shape]);
    names[name] = name;
    const n = numel(inp.shape);
    const lo = inp.min ?? -1;
    const hi = inp.max ?? 1;
    let vals: Float64Array;
    if (inp.data) vals = Float64Array.from(inp.data);
    else if (isFloatType(dtype)) vals = Float64Array.from({ length: n }, () => lo + (hi - lo) * rand());
    else vals = Float64Array.from({ length: n }, () => Math.floor(lo + (hi - lo + 1) * rand()));
    if (vals.length !== n) throw new Error(`input ${name}: ${vals.length} values for shape [${inp.shape.join(',')}]`);
    values.set(name, vals);
    feeds[name] = tensor(dtype, inp.shape, vals);
  }
  const outs = spec.build(b, names);
  for (const o of Array.isArray(outs) ? outs : [outs]) {
    // A graph output must be a node output distinct from inputs: wrap inputs/initializers.
    const isNodeOut = g.nodes.some((n) => n.outputs.includes(o));
    const name = isNodeOut ? o : b.identity(o);
    g.outputs.push({ name, dtype: DataType.UNDEFINED });
  }
  const model = emptyModel(opset, g);
  await annotateWithOrt(model, feeds);
  return { model, feeds, values };
}

/** Move initializer `name` to a graph input (so finite differences can feed perturbed values). */
function initializerAsInput(model: Model, name: string): Model {
  const t = model.graph.initializers.get(name)!;
  const initializers = new Map(model.graph.initializers);
  initializers.delete(name);
  return {
    ...model,
    graph: { ...model.graph, initializers, inputs: [...model.graph.inputs, { name, dtype: t.dtype, shape: [...t.dims] }] },
  };
}

function initializerNumbers(model: Model, name: string): Float64Array {
  const t = model.graph.initializers.get(name)!;
  const raw = t.raw!;
  const view =
    t.dtype === DataType.DOUBLE
      ? new Float64Array(raw.slice().buffer)
      : t.dtype === DataType.FLOAT
        ? new Float32Array(raw.slice().buffer)
        : undefined;
  if (!view) throw new Error(`initializer ${name}: FD checks need FLOAT or DOUBLE`);
  return Float64Array.from(view);
}

/**
 * Check the VJP of a small graph against central finite differences.
 * @throws Error naming the wrt tensor, the worst element and both values when they disagree
 */
export async function checkGradient(spec: CheckGradientSpec): Promise<CheckGradientResult> {
  const label = spec.label ?? 'gradient check';
  const { model, feeds, values } = await buildForward(spec);
  const fdt = spec.dtype ?? DataType.DOUBLE;
  const isDouble = fdt === DataType.DOUBLE;
  const eps = spec.eps ?? (isDouble ? 1e-6 : 1e-2);
  const rtol = spec.rtol ?? (isDouble ? 1e-6 : 2e-2);
  const atol = spec.atol ?? (isDouble ? 1e-9 : 1e-4);
  const rand = rng((spec.seed ?? 1234) + 1);

  const wrt = spec.wrt ?? [];
  const wrtInit = spec.wrtInitializers ?? [];
  const { model: vjpModel, cotangentInputs, gradOutputs, report } = buildVjp(model, { wrt, wrtInitializers: wrtInit });
  spec.tamper?.(vjpModel);

  // Random cotangents; the objective is sum_o <out_o, cot_o>.
  const cotangents = new Map<string, Float64Array>();
  const vjpFeeds: Feeds = { ...feeds };
  for (const [o, cin] of Object.entries(cotangentInputs)) {
    const info = model.graph.outputs.find((v) => v.name === o)!;
    const shape = info.shape as number[];
    const c = Float64Array.from({ length: numel(shape) }, () => rand() * 2 - 1);
    cotangents.set(o, c);
    vjpFeeds[cin] = tensor(info.dtype, shape, c);
  }
  const vjpSession = await createSession(vjpModel);
  const vjpRes = await vjpSession.run(vjpFeeds);
  await vjpSession.release();

  // The forward+VJP model must still compute the original outputs.
  const fwdSession = await createSession(model);
  const fwdRes = await fwdSession.run(feeds);
  await fwdSession.release();
  for (const o of model.graph.outputs) {
    const a = toNumbers(fwdRes[o.name] as ort.Tensor);
    const b = toNumbers(vjpRes[o.name] as ort.Tensor);
    const scale = Math.max(1e-30, ...Array.from(a, Math.abs));
    const err = Math.max(0, ...Array.from(a, (x, i) => Math.abs(x - b[i]!)));
    if (a.length !== b.length || err > 1e-5 * scale)
      throw new Error(`${label}: the VJP model changed forward output ${o.name} (max |diff| ${err})`);
  }

  const checks: WrtCheck[] = [];
  const allWrt = [...wrt.map((w) => ({ name: w, init: false })), ...wrtInit.map((w) => ({ name: w, init: true }))];
  for (const { name, init } of allWrt) {
    const fwdModel = init ? initializerAsInput(model, name) : model;
    const base = init ? initializerNumbers(model, name) : values.get(name)!;
    const shape = init ? [...model.graph.initializers.get(name)!.dims] : spec.inputs[name]!.shape;
    const dtype = init ? model.graph.initializers.get(name)!.dtype : (spec.inputs[name]!.dtype ?? fdt);
    const session = await createSession(fwdModel);
    const objective = async (x: Float64Array): Promise<number> => {
      const f: Feeds = { ...feeds, [name]: tensor(dtype, shape, x) };
      const r = await session.run(f);
      let s = 0;
      for (const [o, c] of cotangents) {
        const y = toNumbers(r[o] as ort.Tensor);
        for (let i = 0; i < c.length; i++) s += y[i]! * c[i]!;
      }
      return s;
    };
    const fd = async (dir: (x: Float64Array, s: number) => void): Promise<number> => {
      const xp = Float64Array.from(base);
      const xm = Float64Array.from(base);
      dir(xp, eps);
      dir(xm, -eps);
      return ((await objective(xp)) - (await objective(xm))) / (2 * eps);
    };

    const grad = toNumbers(vjpRes[gradOutputs[name]!] as ort.Tensor);
    if (grad.length !== base.length) throw new Error(`${label}: gradient of ${name} has ${grad.length} elements, expected ${base.length}`);
    const n = base.length;
    const maxProbes = spec.maxProbes ?? 40;
    const idx = n <= maxProbes ? Array.from({ length: n }, (_x, i) => i) : Array.from({ length: maxProbes }, () => Math.floor(rand() * n));
    const pairs: { what: string; analytic: number; numeric: number }[] = [];
    for (const i of idx) {
      const numeric = await fd((x, s) => (x[i]! += s));
      pairs.push({ what: `element ${i}`, analytic: grad[i]!, numeric });
    }
    // Random directions test every element at once (catches errors in unprobed elements).
    for (let k = 0; k < 3; k++) {
      const v = Float64Array.from({ length: n }, () => rand() * 2 - 1);
      const numeric = await fd((x, s) => {
        for (let i = 0; i < n; i++) x[i]! += s * v[i]!;
      });
      let analytic = 0;
      for (let i = 0; i < n; i++) analytic += grad[i]! * v[i]!;
      pairs.push({ what: `random direction ${k}`, analytic, numeric });
    }
    await session.release();

    const scale = Math.max(...pairs.map((p) => Math.abs(p.numeric)), ...pairs.map((p) => Math.abs(p.analytic)));
    let worst = pairs[0]!;
    let maxAbsErr = 0;
    for (const p of pairs) {
      const e = Math.abs(p.analytic - p.numeric);
      if (!(e <= maxAbsErr)) {
        maxAbsErr = e;
        worst = p;
      }
    }
    if (!(maxAbsErr <= atol + rtol * scale) || !Number.isFinite(scale)) {
      throw new Error(
        `${label}: d/d${name} disagrees with finite differences at ${worst.what}: analytic ${worst.analytic}, numeric ${worst.numeric} ` +
          `(max |err| ${maxAbsErr.toExponential(3)} > ${atol} + ${rtol} * ${scale.toExponential(3)}); emitted ops ${JSON.stringify(report.emittedOps)}`,
      );
    }
    if (scale === 0)
      throw new Error(`${label}: d/d${name} is identically zero on the probes; choose inputs where the gradient is informative`);
    checks.push({ name, maxAbsErr, scale, probes: pairs.length });
  }
  return { checks, report, model, vjpModel };
}
