/**
 * Gradient rule for Trilu: the op is a fixed 0/1 mask, so its gradient is the same mask
 * (same `upper` attribute and diagonal offset input) applied to the output cotangent.
 */
import { singleOutput, type GradRule } from '../rule.js';

const trilu = singleOutput(({ b, node }, g) => {
  const k = node.inputs[1];
  return [b.op('Trilu', k ? [g, k] : [g], { upper: node.attrs['upper'] })];
});

export const rules: Record<string, GradRule> = {
  Trilu: trilu,
};
