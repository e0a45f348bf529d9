/**
 * Static specialisation: fix the symbolic dims of a model's inputs to concrete sizes, then infer
 * shapes and fold constants until nothing changes. The result has a concrete shape for every
 * value and no Shape-driven subgraphs left, which is what the autodiff transform needs (and
 * onnxruntime-node ignores freeDimensionOverrides, so the dims must be fixed in the model).
 */
import { EngineError } from '../errors.js';
import type { Dim, Model } from './ir.js';
import { cloneModel } from './clone.js';
import { fmtShape } from './dims.js';
import { foldConstants, type FoldOptions } from './fold-constants.js';
import { inferShapes } from './shape-inference.js';

export interface SpecialiseOptions {
  /** Initializers never folded into other values (see FoldOptions.keep). */
  keep?: Iterable<string>;
  /** Safety bound on infer+fold rounds (default 20; real exports converge in 2-3). */
  maxRounds?: number;
}

/**
 * A copy of `model` (tensor bytes shared) specialised to the given input shapes.
 * @param shapes input name -> concrete dims, e.g. `{ sample: [1, 4, 64, 64], timestep: [1] }`.
 *   Inputs not listed keep their dims when those are already concrete, or get them from a symbol
 *   bound by a listed input (e.g. `batch`); any input still symbolic is an error. Inputs that
 *   shadow an initializer (old IR < 4 exports list every weight as an input) are dropped from the
 *   inputs, i.e. become constants, unless named in `shapes` or `opts.keep`.
 * @throws EngineError('INVALID_ARGUMENT') for unknown input names, bad sizes, or inputs left symbolic;
 *   EngineError('SHAPE_MISMATCH') when a given shape's rank or fixed dims contradict the model, or
 *   one symbol gets two sizes; EngineError('UNSUPPORTED_OP') for ops shape inference cannot handle.
 */
export function specialise(model: Model, shapes: Record<string, number[]>, opts: SpecialiseOptions = {}): Model {
  const m = cloneModel(model);
  const g = m.graph;
  const inputNames = g.inputs.map((v) => v.name);
  const initializerBacked = new Set([...g.initializers.keys()]);
  for (const name of Object.keys(shapes)) {
    if (!inputNames.includes(name)) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `the model has no input '${name}'; its inputs are ${inputNames.filter((n) => !initializerBacked.has(n)).join(', ')}`,
      );
    }
    const given = shapes[name]!;
    if (!given.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new EngineError('INVALID_ARGUMENT', `shape for input '${name}' must be non-negative integers, got [${given.join(',')}]`);
    }
  }

  // Bind symbols from the given shapes, checking ranks, fixed dims and symbol consistency.
  const bound = new Map<string, { size: number; from: string }>();
  for (const v of g.inputs) {
    const given = shapes[v.name];
    if (!given) continue;
    const dims = v.shape;
    if (dims && dims.length !== given.length) {
      throw new EngineError(
        'SHAPE_MISMATCH',
        `input '${v.name}' has rank ${dims.length} ${fmtShape(dims)} in the model, but the given shape [${given.join(',')}] has rank ${given.length}`,
      );
    }
    dims?.forEach((d, i) => {
      const size = given[i]!;
      if (typeof d === 'number') {
        if (d !== size)
          throw new EngineError(
            'SHAPE_MISMATCH',
            `input '${v.name}' has dims ${fmtShape(dims)} in the model, but the given shape is [${given.join(',')}] (dim ${i} must be ${d})`,
          );
        return;
      }
      const prev = bound.get(d);
      if (prev && prev.size !== size) {
        throw new EngineError(
          'SHAPE_MISMATCH',
          `dim '${d}' is ${prev.size} in input '${prev.from}' but ${size} in input '${v.name}' (model dims ${fmtShape(dims)}, given [${given.join(',')}])`,
        );
      }
      if (!prev) bound.set(d, { size, from: v.name });
    });
  }

  // Inputs that shadow an initializer (all weights, in IR < 4 exports) are constants here unless
  // the caller asked for them: otherwise nothing downstream of them could be folded.
  const keepNames = new Set(opts.keep ?? []);
  g.inputs = g.inputs.filter((v) => !initializerBacked.has(v.name) || shapes[v.name] !== undefined || keepNames.has(v.name));

  const unresolved: string[] = [];
  let example: string | undefined;
  for (const v of g.inputs) {
    const given = shapes[v.name];
    if (given) {
      v.shape = [...given];
      continue;
    }
    if (initializerBacked.has(v.name)) continue;
    if (!v.shape) {
      unresolved.push(`${v.name} (unknown rank)`);
      continue;
    }
    const fixed: Dim[] = v.shape.map((d) => (typeof d === 'number' ? d : (bound.get(d)?.size ?? d)));
    if (fixed.some((d) => typeof d !== 'number')) {
      unresolved.push(`${v.name} ${fmtShape(v.shape)}`);
      example ??= `${v.name}=${fixed.map((d) => (typeof d === 'number' ? String(d) : `<${d}>`)).join('x')}`;
    } else v.shape = fixed;
  }
  if (unresolved.length > 0) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `inputs with symbolic dims need a concrete shape: ${unresolved.join('; ')}. Pass --shape NAME=D0xD1x… for each${example ? ` (e.g. --shape ${example} with numbers for the <names>)` : ''}`,
    );
  }

  // Declared output dims that are now determined by the bound symbols.
  for (const o of g.outputs) if (o.shape) o.shape = o.shape.map((d) => (typeof d === 'number' ? d : (bound.get(d)?.size ?? d)));

  const foldOpts: FoldOptions = { keep: keepNames };
  const maxRounds = opts.maxRounds ?? 20;
  for (let round = 0; round < maxRounds; round++) {
    inferShapes(m);
    const r = foldConstants(m, foldOpts);
    if (r.folded === 0 && r.removedNodes === 0) break;
  }
  inferShapes(m);
  for (const o of g.outputs) {
    const info = g.valueInfo.get(o.name);
    if (info?.shape) o.shape = [...info.shape];
  }
  return m;
}
