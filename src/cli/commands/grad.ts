/**
 * `inversion-studio grad`: turn a forward ONNX model into a forward+VJP model.
 *
 * Contract of OUT.onnx: inputs = the original inputs (same names, dims fixed by --shape) plus one
 * `<output>_cotangent` per original float output (same shape and dtype as that output); outputs =
 * the original outputs plus `<name>_grad` for each --wrt / --wrt-initializer name.
 * External weights stay where they are: OUT.onnx refers to the same data files by relative path
 * (linked next to OUT.onnx when it is written to another folder).
 */
import path from 'node:path';
import { buildVjp, type VjpReport } from '../../main/engine/autodiff/vjp.js';
import { readModel, writeModel } from '../../main/engine/onnx/model-io.js';
import { specialise } from '../../main/engine/onnx/specialise.js';
import { DataType } from '../../main/engine/onnx/dtype.js';
import type { Dim, Model } from '../../main/engine/onnx/ir.js';
import { EngineError } from '../../main/engine/errors.js';
import { parseCommandArgs, usageError } from '../args.js';

export const summary = 'build a forward+gradient (VJP) ONNX model: outputs + d(<out, cotangent>)/d(inputs or weights)';

const HELP = `usage: inversion-studio grad MODEL.onnx --wrt NAME[,NAME…] [--wrt-initializer NAME[,NAME…]]
                             [--shape INPUT=D0xD1x…]… -o OUT.onnx

Writes OUT.onnx computing the original outputs and vector-Jacobian products, in standard ONNX
ops (runs on every onnxruntime execution provider).
  inputs of OUT.onnx:  the original inputs (dims fixed by --shape) + <output>_cotangent per output
  outputs of OUT.onnx: the original outputs + <name>_grad per --wrt / --wrt-initializer name
<name>_grad = d(sum over outputs of output * <output>_cotangent) / d(name).

options:
  --wrt NAMES              graph inputs to differentiate (comma-separated, repeatable)
  --wrt-initializer NAMES  initializers (weights, embedding tables) to differentiate
  --shape INPUT=D0xD1x…    fix the dims of an input (repeatable); needed for every input with
                           symbolic dims (batch, height, …), e.g. --shape sample=1x4x64x64
                           (dims bound by another input, like batch, follow from it)
  -o, --output OUT.onnx    where to write the gradient model
  -h, --help               this help`;

class UsageError extends Error {}

function splitList(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parse `NAME=1x4x64x64` specs. */
export function parseShapes(specs: string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const spec of specs) {
    const m = /^([^=]+)=(\d+(?:[x×,]\d+)*)?$/.exec(spec.trim());
    if (!m) throw new UsageError(`--shape '${spec}' is not INPUT=D0xD1x… (e.g. --shape sample=1x4x64x64; use INPUT= for a scalar)`);
    const name = m[1]!.trim();
    if (name in out) throw new UsageError(`--shape given twice for input '${name}'`);
    out[name] = m[2] ? m[2].split(/[x×,]/).map(Number) : [];
  }
  return out;
}

const fmt = (shape: Dim[] | undefined): string => (shape ? `[${shape.join(',')}]` : '[?]');

function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
}

function printReport(r: VjpReport, model: Model, cot: Record<string, string>, grads: Record<string, string>, out: string): void {
  const log = (s: string) => console.log(s);
  log(`wrote ${out}`);
  log(
    `  nodes: ${r.nodesBefore} forward -> ${r.nodesAfter} forward+VJP (${r.nodesAfter - r.nodesBefore} gradient nodes, ${r.differentiatedNodes} forward nodes differentiated)`,
  );
  log(`  forward ops: ${formatCounts(r.forwardOps)}`);
  log(`  gradient ops: ${formatCounts(r.emittedOps)}`);
  log(`  rules used: ${formatCounts(r.rulesUsed)}`);
  log(
    `  rule families: ${Object.entries(r.families)
      .map(([f, ops]) => `${f} (${ops.sort().join(', ')})`)
      .join('; ')}`,
  );
  const vi = (n: string) => {
    const v = [...model.graph.inputs, ...model.graph.outputs].find((x) => x.name === n);
    return v ? `${n} ${DataType[v.dtype]} ${fmt(v.shape)}` : n;
  };
  log(`  inputs: ${model.graph.inputs.map((v) => vi(v.name)).join(', ')}`);
  log(`  cotangent inputs: ${Object.values(cot).join(', ') || '(none)'}`);
  log(`  gradient outputs: ${Object.values(grads).map(vi).join(', ')}`);
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandArgs('grad', HELP, argv, {
    wrt: { type: 'string', multiple: true },
    'wrt-initializer': { type: 'string', multiple: true },
    shape: { type: 'string', multiple: true },
    output: { type: 'string', short: 'o' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof args === 'number') return args;
  try {
    const [modelPath, ...extra] = args.positionals;
    if (!modelPath) throw new UsageError('missing MODEL.onnx');
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const out = args.values.output;
    if (!out) throw new UsageError('missing -o OUT.onnx');
    const wrt = splitList(args.values.wrt);
    const wrtInitializers = splitList(args.values['wrt-initializer']);
    if (wrt.length + wrtInitializers.length === 0) throw new UsageError('give at least one --wrt or --wrt-initializer');
    const given = parseShapes(args.values.shape ?? []);
    if (path.resolve(out) === path.resolve(modelPath)) throw new UsageError('-o must differ from the input model');

    const model = await readModel(modelPath);
    // wrt initializers must stay initializers: never fold them into derived constants
    const fixed = specialise(model, given, { keep: wrtInitializers });
    const result = buildVjp(fixed, { wrt, wrtInitializers });
    await writeModel(result.model, out);
    printReport(result.report, result.model, result.cotangentInputs, result.gradOutputs, out);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) return usageError('grad', HELP, e.message);
    if (e instanceof EngineError) {
      console.error(`inversion-studio grad: ${e.message}`);
      if (process.env.INVERSION_STUDIO_DEBUG) console.error(e.stack);
      return 1;
    }
    throw e;
  }
}
