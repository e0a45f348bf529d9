import { expect, it } from 'vitest';
import { formatBytes, formatDuration, formatNumber } from '../../../src/renderer/lib/format.js';

it('formats durations, numbers and sizes', () => {
  expect(formatDuration(65)).toBe('1:05');
  expect(formatDuration(3 * 3600 + 7)).toBe('3:00:07');
  expect(formatDuration(Number.NaN)).toBe('–');
  expect(formatNumber(0.123456)).toBe('0.1235');
  expect(formatNumber(0.00001234)).toBe('1.23e-5');
  expect(formatNumber(0)).toBe('0');
  expect(formatBytes(512)).toBe('512 B');
  expect(formatBytes(3.5 * 1024 * 1024)).toBe('3.5 MB');
});
