/**
 * The contract between the VJP transform and the per-op gradient rules.
 *
 * The transform runs on a statically specialised graph (every value has a known dtype and
 * concrete shape), so rules may bake shapes into the emitted graph as constants.
 * A rule emits standard ai.onnx ops at the model's opset through `ctx.b` and returns one
 * gradient value name (or undefined) per forward input.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import type { DataType, NumericArray } from '../onnx/dtype.js';
import type { Node } from '../onnx/ir.js';
import { EngineError } from '../errors.js';

export interface GradContext {
  /** Emits nodes into the forward+VJP graph; opset-aware helpers live here. */
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
  /** Whether the transform wants a gradient for forward input `index` (false for frozen/integer inputs). */
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
 * A gradient rule.
 * @param gradOutputs cotangent value names for each forward output (undefined when that output
 *   does not influence the differentiated outputs)
 * @returns gradient value names for each forward input; undefined where no gradient is needed or
 *   the input is not differentiable. Each returned gradient has exactly the input's shape and dtype.
 */
export type GradRule = (ctx: GradContext, gradOutputs: (string | undefined)[]) => (string | undefined)[];

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
