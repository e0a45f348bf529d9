import { describe, expect, it } from 'vitest';
import { ablationOptions, parseAblation } from '../../../../src/main/engine/eval/ablation.js';
import { planUnits } from '../../../../src/main/engine/eval/runner.js';

const items = [
  { id: 'a', prompt: 'x' },
  { id: 'b', prompt: 'y' },
];

describe('--ablate', () => {
  it('parses SETTING=V1,V2 and refuses what it cannot sweep', () => {
    expect(parseAblation('iterations=100,300')).toEqual({ setting: 'iterations', values: ['100', '300'] });
    expect(parseAblation('captioner=own,florence2').values).toEqual(['own', 'florence2']);
    expect(() => parseAblation('lr=0.1')).toThrow(/SETTING one of iterations, steps, init-length, seed, captioner/);
    expect(() => parseAblation('steps=0')).toThrow(/integer ≥ 1/);
    expect(() => parseAblation('init-length=80')).toThrow(/at most 75/);
    expect(() => parseAblation('captioner=blip')).toThrow(/not one of/);
    expect(() => parseAblation('seed=1,1')).toThrow(/twice/);
    expect(ablationOptions('steps', '3')).toEqual({ editor: { steps: 3 } });
    expect(ablationOptions('init-length', '8')).toEqual({ initLength: 8 });
  });

  it('plans item-major units; a method the setting does not apply to runs once', () => {
    const plain = planUnits(items, ['editor', 'caption'], [0, 34]);
    expect(plain.map((u) => u.key)).toEqual([
      'a|editor|seed=0',
      'a|editor|seed=34',
      'a|caption|seed=0',
      'a|caption|seed=34',
      'b|editor|seed=0',
      'b|editor|seed=34',
      'b|caption|seed=0',
      'b|caption|seed=34',
    ]);
    const steps = planUnits(items.slice(0, 1), ['editor', 'ph2p', 'caption'], [0], parseAblation('steps=3,5'));
    expect(steps.map((u) => u.key)).toEqual(['a|editor|seed=0|steps=3', 'a|editor|seed=0|steps=5', 'a|ph2p|seed=0', 'a|caption|seed=0']);
    expect(steps[1]!.options).toEqual({ editor: { steps: 5 } });
    const seeds = planUnits(items.slice(0, 1), ['pez', 'caption'], [0], parseAblation('seed=0,34'));
    expect(seeds.map((u) => [u.key, u.seed])).toEqual([
      ['a|pez|seed=0|seed=0', 0],
      ['a|pez|seed=34|seed=34', 34],
      ['a|caption|seed=0', 0],
    ]);
  });
});
