/**
 * The contract between the VJP transform and the per-op gradient rules, and the few helpers
 * rules share (constant inputs, axes).
 *
 * The transform runs on a statically specialised graph (every value has a known dtype and
 * concrete shape), so rules may bake shapes into the emitted graph as constants. A rule emits
 * standard ai.onnx ops at the model's opset through `ctx.b` (the typed helpers `b.mul`,
 * `b.where`, `b.matmul`, `b.reduceSum`, ...) and returns one gradient per forward input. The
 * transform, not the rule, skips the inputs that need no gradient (a gradient may be given as a
 * function, called only when its input needs one) and sums broadcast axes back: a gradient whose
 * shape the builder knows may have the broadcast (output) shape.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { DataType, halfToFloat, type NumericArray } from '../onnx/dtype.js';
import type { Node } from '../onnx/ir.js';
import { sameShape } from '../onnx/static-shape.js';
import { EngineError } from '../errors.js';

export interface GradContext {
  /** Emits nodes into the forward+VJP graph; opset-aware typed helpers live here. */
  readonly b: GraphBuilder;
  /** The forward node being differentiated (its input/output names are valid in the VJP graph). */
  readonly node: Node;
  /** ai.onnx opset of the model. */
  readonly opset: number;
  /** Concrete shape of a value (throws if unknown: specialise first). */
  shapeOf(name: string): number[];
  /** Element type of a value. */
  dtypeOf(name: string): DataType;
  /** The value of a constant (initializer or folded Constant), or undefined if not constant. */
  constValue(name: string): NumericArray | undefined;
  /**
   * Whether the transform wants a gradient for forward input `index` (false for frozen/integer
   * inputs). Rules need not ask (the transform skips those inputs); it is for rules whose
   * shared emission depends on which inputs are wanted (Concat: one Split or a few Slices).
   */
  needsGrad(index: number): boolean;
  /**
   * The name of the forward node's output `index` (an optional output such as
   * LayerNormalization's Mean / InvStdDev), adding it to the node in the forward+VJP graph when
   * the model did not ask for it; `shape`/`dtype` describe it. The forward's results are
   * unchanged (the kernel computes that value anyway). Undefined when the transform cannot
   * (callers then recompute the value).
   */
  forwardOutput?(index: number, shape: number[], dtype: DataType): string | undefined;
}

/**
 * The gradient of one forward input: a value name, a function that emits it (called by the
 * transform only when the input needs a gradient; it may return undefined), or undefined (none).
 */
export type InputGrad = string | (() => string | undefined) | undefined;

/**
 * A gradient rule.
 * @param gradOutputs cotangent value names for each forward output (undefined when that output
 *   does not influence the differentiated outputs; at least one is defined)
 * @returns per forward input its gradient (missing entries: none), in the input's dtype and
 *   either of the input's shape or, when `ctx.b` knows its shape, of a shape the input
 *   broadcasts to (the transform sums it back).
 */
export type GradRule = (ctx: GradContext, gradOutputs: (string | undefined)[]) => InputGrad[];

/** A rule for an op whose only differentiable output is output 0 (`g` is its cotangent). */
export function singleOutput(rule: (ctx: GradContext, g: string) => InputGrad[]): GradRule {
  return (ctx, [g]) => (g === undefined ? [] : rule(ctx, g));
}

/**
 * What the transform does with a rule's result for input `i`: emit it if deferred and sum a
 * broadcast-shaped gradient back to the input's shape. Undefined when there is none.
 */
export function inputGradient(ctx: GradContext, grad: InputGrad, i: number): string | undefined {
  const g = typeof grad === 'function' ? grad() : grad;
  const shape = g === undefined ? undefined : ctx.b.knownShape(g);
  if (g === undefined || !shape) return g;
  const target = ctx.shapeOf(ctx.node.inputs[i]!);
  return sameShape(shape, target) ? g : ctx.b.sumTo(g, target);
}

/** Shape of forward input `i` of the node. */
export function inputShape(ctx: GradContext, i = 0): number[] {
  return ctx.shapeOf(ctx.node.inputs[i]!);
}

/** Shape of forward output `i` of the node. */
export function outputShape(ctx: GradContext, i = 0): number[] {
  return ctx.shapeOf(ctx.node.outputs[i]!);
}

/** Normalise a possibly negative axis against `rank`; throws on out-of-range axes. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new EngineError('INVALID_MODEL', `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/**
 * The integer values of a constant input (axes, starts, pads...), or undefined when the input
 * is omitted (''). Throws when the input is present but not a constant: rules that bake such
 * values need a specialised, constant-folded graph.
 */
export function constInts(ctx: GradContext, name: string | undefined, what: string): number[] | undefined {
  if (!name) return undefined;
  const v = ctx.constValue(name);
  if (!v) {
    throw new EngineError(
      'UNSUPPORTED_OP',
      `${ctx.node.opType} node '${ctx.node.name}': ${what} ('${name}') must be a constant for the gradient; specialise the model (fixed shapes + constant folding) first`,
    );
  }
  return Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
}

/** The constant float values of an input, or undefined when absent/not constant. */
export function constFloats(ctx: Pick<GradContext, 'constValue' | 'dtypeOf'>, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const v = ctx.constValue(name);
  if (!v) return undefined;
  const dt = ctx.dtypeOf(name);
  if (dt === DataType.FLOAT16) return Array.from(v as Uint16Array, halfToFloat);
  if (dt === DataType.BFLOAT16) return undefined;
  return Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
}

/** The value of a one-element constant input, or undefined. */
export function constScalar(ctx: Pick<GradContext, 'constValue' | 'dtypeOf'>, name: string | undefined): number | undefined {
  const v = constFloats(ctx, name);
  return v && v.length === 1 ? v[0] : undefined;
}

/** Thrown when a node on the gradient path has no rule: names the op, node and what to do. */
export class MissingGradRuleError extends EngineError {
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly domain: string,
  ) {
    super(
      'MISSING_GRAD_RULE',
      `no gradient rule for op ${domain ? domain + '::' : ''}${opType} (node '${nodeName}') on the path to the requested gradients. ` +
        `Add a rule in src/main/engine/autodiff/rules/, or differentiate with respect to an input that does not depend on this node.`,
    );
    this.name = 'MissingGradRuleError';
  }
}
