import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newEvaluationId, runDirOf, sameSpec } from '../../../src/main/host/evaluations.js';
import { ID_PATTERN } from '../../../src/shared/ipc/limits.js';

describe('evaluation run folders', () => {
  it('names runs by time (sortable ids), inside <library>/evaluations/ only', () => {
    const a = newEvaluationId(new Date('2026-03-04T05:06:07.890Z'));
    expect(a).toMatch(/^eval-20260304-050607-[0-9a-f]{6}$/);
    expect(ID_PATTERN.test(a)).toBe(true);
    expect(newEvaluationId(new Date('2026-03-04T05:06:08Z')) > a).toBe(true);
    expect(runDirOf('/lib', a)).toBe(path.join('/lib', 'evaluations', a));
    for (const bad of ['..', '../x', 'a/b', '.hidden', '']) expect(() => runDirOf('/lib', bad)).toThrow(/not an evaluation id/);
  });

  it('compares run options regardless of key order and of how a folder path is written', () => {
    const base = { dataset: { kind: 'folder' as const, path: '/data/set' }, methods: ['editor' as const], seeds: [0, 1], modelSet: 'demo' };
    expect(
      sameSpec(base, { modelSet: 'demo', seeds: [0, 1], methods: ['editor'], dataset: { path: '/data/x/../set', kind: 'folder' } }),
    ).toBe(true);
    expect(sameSpec(base, { ...base, seeds: [1, 0] })).toBe(false);
    expect(sameSpec(base, { ...base, iterations: 10 })).toBe(false);
    expect(sameSpec(base, { ...base, methods: ['editor', 'caption'] })).toBe(false);
  });
});
