import { describe, expect, it } from 'vitest';
import { intOption, numberOption } from '../../src/cli/args.js';

describe('numberOption', () => {
  it('is undefined when absent and parses decimal notation within the bounds', () => {
    expect(numberOption(undefined, '--w', 0, 1)).toBeUndefined();
    expect(numberOption('0.02', '--w', 0, 100)).toBe(0.02);
    expect(numberOption(' 7.5 ', '--w', 0)).toBe(7.5);
    expect(numberOption('1e-3', '--w', 0, 1)).toBe(0.001);
    expect(numberOption('.5', '--w', 0, 1)).toBe(0.5);
    expect(numberOption('3.', '--w', 0, 10)).toBe(3);
    expect(numberOption('-2', '--w', -5, 5)).toBe(-2);
    expect(numberOption('100', '--w', 0, 100)).toBe(100);
  });

  it('explains what it wants for empty, non-numeric, non-decimal, non-finite and out-of-range values', () => {
    for (const bad of ['', ' ', 'abc', '0x10', '1,5', 'Infinity', 'NaN', '1e999', '-0.1', '100.5']) {
      expect(numberOption(bad, '--fluency', 0, 100)).toBe(`--fluency must be a number from 0 to 100 (got '${bad}')`);
    }
    expect(numberOption('-1', '--guidance', 0)).toBe(`--guidance must be a number >= 0 (got '-1')`);
  });
});

describe('intOption', () => {
  it('rejects fractions that numberOption accepts', () => {
    expect(intOption('2.5', '--n', 0, 10)).toMatch(/must be an integer from 0 to 10/);
    expect(intOption('3', '--n', 0, 10)).toBe(3);
  });
});
