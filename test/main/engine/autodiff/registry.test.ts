import { describe, it, expect } from 'vitest';
import {
  getRule,
  isNonDifferentiable,
  NON_DIFFERENTIABLE,
  ruleFamily,
  supportedOps,
} from '../../../../src/main/engine/autodiff/registry.js';

/** Ops of SD/CLIP/VAE exports at opsets 14-18 (DESIGN §2 and the gradient issue). */
const SD_OPS = [
  'Conv',
  'MatMul',
  'Gemm',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Sqrt',
  'Erf',
  'Sigmoid',
  'Softmax',
  'InstanceNormalization',
  'LayerNormalization',
  'GroupNormalization',
  'ReduceMean',
  'ReduceSum',
  'Reshape',
  'Transpose',
  'Concat',
  'Split',
  'Slice',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Expand',
  'Where',
  'Equal',
  'Cast',
  'Resize',
  'Cos',
  'Sin',
  'Shape',
  'Constant',
  'ConstantOfShape',
  'Trilu',
  'Einsum',
  'Range',
  'Flatten',
  'Tile',
  'Pad',
  'Identity',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Tanh',
  'Relu',
  'Max',
  'Min',
  'Clip',
];

describe('gradient rule registry', () => {
  it('covers every op of the Stable Diffusion / CLIP / VAE exports (a rule, or known non-differentiable)', () => {
    const missing = SD_OPS.filter((op) => !getRule(op) && !isNonDifferentiable(op));
    expect(missing).toEqual([]);
  });
  it('non-differentiable ops never have a rule', () => {
    for (const op of NON_DIFFERENTIABLE) expect(getRule(op), op).toBeUndefined();
    for (const op of ['Shape', 'Equal', 'Less', 'Not', 'Range', 'ConstantOfShape', 'ArgMax']) expect(isNonDifferentiable(op)).toBe(true);
  });
  it('custom domains have no rules; ai.onnx may be spelled either way', () => {
    expect(getRule('Gelu', 'com.microsoft')).toBeUndefined();
    expect(isNonDifferentiable('Shape', 'com.microsoft')).toBe(false);
    expect(getRule('Add', 'ai.onnx')).toBe(getRule('Add', ''));
  });
  it('reports the family of each rule', () => {
    expect(ruleFamily('Add')).toBe('elementwise');
    expect(ruleFamily('Slice')).toBe('shape');
    expect(ruleFamily('ReduceMean')).toBe('reduce');
    expect(ruleFamily('Conv')).toBe('conv');
    expect(supportedOps()).toContain('Einsum');
  });
});
