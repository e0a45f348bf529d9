/**
 * Gradient rule for Trilu: the op is a fixed 0/1 mask, so its gradient is the same mask
 * (same `upper` attribute and diagonal offset input) applied to the output cotangent.
 */
import type { GradRule } from '../rule.js';

const trilu: GradRule = (ctx, [g]) => {
  const out: (string | undefined)[] = ctx.node.inputs.map(() => undefined);
  if (!g || !ctx.needsGrad(0)) return out;
  const k = ctx.node.inputs[1];
  out[0] = ctx.b.op('Trilu', k ? [g, k] : [g], { upper: ctx.node.attrs['upper'] });
  return out;
};

export const rules: Record<string, GradRule> = {
  Trilu: trilu,
};
