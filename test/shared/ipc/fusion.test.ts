import { describe, expect, it } from 'vitest';
import { REQUEST_METHODS, requestFor } from '../../../src/shared/api.js';
import { FuseRequestSchema, FuseResultSchema } from '../../../src/shared/ipc/fusion.js';
import { JOB_KINDS, JobResultSchema } from '../../../src/shared/ipc/jobs.js';
import { LibraryItemSchema, type LibraryItem } from '../../../src/shared/ipc/library.js';
import { MAX_FUSE_PARENTS } from '../../../src/shared/ipc/limits.js';

const two = [
  { kind: 'library', id: 'item-1', file: 'item-1-c0.png' },
  { kind: 'prompt', text: 'a fox' },
];
const ok = (r: object) => FuseRequestSchema.safeParse({ type: 'fuse', ...r }).success;

describe('fuse on the wire', () => {
  it('is a job with a StudioApi method taking one params object', () => {
    expect(JOB_KINDS).toContain('fuse');
    expect(REQUEST_METHODS.fuse).toBe('params');
    expect(requestFor('fuse', [{ parents: two, mode: 'concat' }])).toEqual({ type: 'fuse', parents: two, mode: 'concat' });
  });

  it('takes 2..16 parents, a mode or a grid, one weight and region per parent', () => {
    expect(ok({ parents: two, mode: 'blend', weights: [0.25, 0.75], interpolation: 'lerp' })).toBe(true);
    expect(ok({ parents: two, grid: {} })).toBe(true);
    expect(
      ok({
        parents: two,
        grid: {
          modes: ['concat', 'blend'],
          weightSets: [
            [1, 0],
            [0, 1],
          ],
        },
      }),
    ).toBe(true);
    expect(ok({ parents: two, mode: 'regions', regions: ['top', 'attention'] })).toBe(true);
    expect(ok({ parents: Array.from({ length: MAX_FUSE_PARENTS }, () => two[1]), mode: 'concat' })).toBe(true);
    for (const bad of [
      { parents: [two[0]], mode: 'blend' },
      { parents: Array.from({ length: MAX_FUSE_PARENTS + 1 }, () => two[1]), mode: 'concat' },
      { parents: two },
      { parents: two, mode: 'average' },
      { parents: two, mode: 'blend', weights: [1] },
      { parents: two, mode: 'blend', weights: [1, Number.POSITIVE_INFINITY] },
      { parents: two, mode: 'blend', weights: [1, 101] },
      { parents: two, mode: 'regions', regions: ['left'] },
      { parents: two, mode: 'regions', regions: ['left', 'middle'] },
      { parents: two, grid: { modes: ['concat', 'concat'] } },
      { parents: two, grid: { weightSets: [[1, 1, 1]] } },
      { parents: [{ kind: 'file', path: '/etc/passwd' }, two[1]], mode: 'blend' },
      { parents: [{ kind: 'library', id: 'x', file: '../x.png' }, two[1]], mode: 'blend' },
      { parents: [{ kind: 'library', id: 'x', file: 'evolution/s/images/a.png' }, two[1]], mode: 'blend' },
      { parents: two, mode: 'blend', width: 100 },
      { parents: two, mode: 'blend', keepWords: Array.from({ length: 100 }, () => 'w') },
    ])
      expect(ok(bad), JSON.stringify(bad).slice(0, 120)).toBe(false);
  });

  it('the result is the library item with its fusion record', () => {
    const item: LibraryItem = {
      kind: 'generation',
      id: 'f1',
      createdAt: 't',
      file: 'f1.png',
      width: 64,
      height: 64,
      params: {
        prompt: 'decoded',
        negativePrompt: '',
        seed: 0,
        steps: 4,
        scheduler: 'ddim',
        guidance: 7.5,
        width: 64,
        height: 64,
        model: 'demo',
      },
      fusion: {
        mode: 'blend',
        weights: [0.5, 0.5],
        parents: [
          { label: 'A', prompt: 'a fox', source: 'recorded', item: 'item-1' },
          { label: 'B', prompt: 'a hen', source: 'prompt' },
        ],
        prompt: 'decoded',
        decoded: { text: 'decoded', distance: 0.2, decoder: 'search' },
        interpolation: 'slerp',
      },
    };
    expect(LibraryItemSchema.parse(item)).toEqual(item);
    const result = { kind: 'fuse', item, seconds: 1, warnings: [] };
    expect(FuseResultSchema.parse(result)).toEqual(result);
    expect(JobResultSchema.parse(result)).toEqual(result);
    expect(LibraryItemSchema.safeParse({ ...item, fusion: { ...item.fusion, parents: [item.fusion!.parents[0]] } }).success).toBe(false);
  });
});
