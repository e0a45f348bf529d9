/**
 * Learning-rate schedules for embedding refinement.
 *
 * The EDITOR reference wraps AdamW in PyTorch's `CyclicLR(base_lr=0.05, max_lr=0.1,
 * step_size_up=50, step_size_down=50, mode='triangular')`; `cyclicLr` reproduces that schedule
 * (momentum cycling off: Adam exposes no `momentum` to cycle in the PyTorch versions the
 * reference targets).
 */
export interface CyclicLrOptions {
  base: number;
  max: number;
  stepsUp: number;
  stepsDown: number;
}

export type LrSchedule = (iteration: number) => number;

/** Triangular cyclic schedule: base at iteration 0, max after `stepsUp`, base again after `stepsDown`. */
export function cyclicLr({ base, max, stepsUp, stepsDown }: CyclicLrOptions): LrSchedule {
  if (!(max >= base && base >= 0)) throw new RangeError(`cyclic learning rate needs 0 <= base <= max, got ${base}..${max}`);
  if (stepsUp <= 0 || stepsDown <= 0) throw new RangeError('cyclic learning rate needs positive step counts');
  const period = stepsUp + stepsDown;
  return (iteration) => {
    const p = ((iteration % period) + period) % period;
    const frac = p < stepsUp ? p / stepsUp : (period - p) / stepsDown;
    return base + (max - base) * frac;
  };
}

export function constantLr(lr: number): LrSchedule {
  return () => lr;
}
