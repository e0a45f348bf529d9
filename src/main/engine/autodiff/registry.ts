/**
 * The gradient-rule registry: one table per op family (rules/<family>.ts exports
 * `rules: Record<string, GradRule>`), merged here. Adding a family = one import + one entry
 * in FAMILIES.
 *
 * Ops whose outputs carry no gradient (comparisons, shape queries, index producers, rounding,
 * random generators) are listed in NON_DIFFERENTIABLE: the transform treats their outputs as
 * constants, so they never need a rule and a wrt that reaches the outputs only through them
 * is reported as "does not reach" rather than given a silent zero.
 */
import { isDefaultDomain } from '../onnx/ir.js';
import type { GradRule } from './rule.js';
import { rules as elementwise } from './rules/elementwise.js';
import { rules as shape } from './rules/shape.js';
import { rules as reduce } from './rules/reduce.js';
import { rules as conv } from './rules/conv.js';
import { rules as matmul } from './rules/matmul.js';
import { rules as norm } from './rules/norm.js';
import { rules as softmax } from './rules/softmax.js';
import { rules as resize } from './rules/resize.js';
import { rules as trilu } from './rules/trilu.js';

/** Every family, in one place. */
const FAMILIES: Record<string, Record<string, GradRule>> = { elementwise, shape, reduce, conv, matmul, norm, softmax, resize, trilu };

const RULES = new Map<string, { rule: GradRule; family: string }>();
for (const [family, table] of Object.entries(FAMILIES)) {
  for (const [op, rule] of Object.entries(table)) {
    if (RULES.has(op)) throw new Error(`gradient rule for ${op} defined by both ${RULES.get(op)!.family} and ${family}`);
    RULES.set(op, { rule, family });
  }
}

/** Ops whose outputs are treated as constants by the transform (zero or undefined derivative). */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new Set([
  'Shape',
  'Size',
  'Constant',
  'ConstantOfShape',
  'Range',
  'EyeLike',
  'OneHot',
  'NonZero',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
  'ArgMax',
  'ArgMin',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
  'BitwiseNot',
]);

/** The rule for an op, or undefined (custom domains have no rules). */
export function getRule(opType: string, domain = ''): GradRule | undefined {
  if (!isDefaultDomain(domain)) return undefined;
  return RULES.get(opType)?.rule;
}

/** The family file a rule comes from (for reports), or undefined. */
export function ruleFamily(opType: string): string | undefined {
  return RULES.get(opType)?.family;
}

export function isNonDifferentiable(opType: string, domain = ''): boolean {
  return isDefaultDomain(domain) && NON_DIFFERENTIABLE.has(opType);
}

/** All op types with a rule, sorted (for docs and `--help`). */
export function supportedOps(): string[] {
  return [...RULES.keys()].sort();
}
