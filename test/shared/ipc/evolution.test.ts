import { describe, expect, it } from 'vitest';
import { REQUEST_METHODS, requestFor } from '../../../src/shared/api.js';
import {
  EvolutionFileSchema,
  EvolutionJobResultSchema,
  parseEvolutionFile,
  type EvolutionSessionView,
} from '../../../src/shared/ipc/evolution.js';
import { JOB_KINDS, JobResultSchema } from '../../../src/shared/ipc/jobs.js';
import { RequestSchema } from '../../../src/shared/ipc/requests.js';

const valid = (r: object) => RequestSchema.safeParse(r).success;

describe('evolution on the wire', () => {
  it('has three jobs and five plain requests, each a StudioApi method', () => {
    for (const k of ['createEvolution', 'breedEvolution', 'reinvertEvolution'] as const) expect(JOB_KINDS).toContain(k);
    expect(requestFor('breedEvolution', ['evo-1', ['g0-00']])).toEqual({ type: 'breedEvolution', session: 'evo-1', picks: ['g0-00'] });
    expect(requestFor('breedEvolution', ['evo-1'])).toEqual({ type: 'breedEvolution', session: 'evo-1' });
    expect(requestFor('lockEvolution', ['evo-1', 'g0-00', ['fox']])).toEqual({
      type: 'lockEvolution',
      session: 'evo-1',
      id: 'g0-00',
      words: ['fox'],
    });
    expect(requestFor('branchEvolution', ['evo-1', 'g0-01'])).toEqual({ type: 'branchEvolution', session: 'evo-1', from: 'g0-01' });
    expect(requestFor('exportEvolution', ['evo-1'])).toEqual({ type: 'exportEvolution', session: 'evo-1' });
    expect(REQUEST_METHODS.listEvolutions).toEqual([]);
  });

  it('bounds what a request carries: ids, picks, words, population, init', () => {
    expect(
      valid({ type: 'createEvolution', init: [{ kind: 'prompt', text: 'a fox' }], fitness: { kind: 'clip', image: { id: 'item-1' } } }),
    ).toBe(true);
    expect(
      valid({ type: 'createEvolution', init: [{ kind: 'prompt', text: 'a fox' }], fitness: { kind: 'checker', prompt: 'a red circle' } }),
    ).toBe(true);
    for (const bad of [
      { type: 'createEvolution', init: [] },
      { type: 'createEvolution', init: Array.from({ length: 17 }, () => ({ kind: 'prompt', text: 'x' })) },
      { type: 'createEvolution', init: [{ kind: 'prompt', text: 'x' }], population: 1 },
      { type: 'createEvolution', init: [{ kind: 'prompt', text: 'x' }], population: 65 },
      { type: 'createEvolution', init: [{ kind: 'prompt', text: 'x' }], fitness: { kind: 'clip', image: '/etc/passwd' } },
      { type: 'breedEvolution', session: '..', picks: [] },
      { type: 'breedEvolution', session: 'evo-1', picks: ['x'] },
      { type: 'breedEvolution', session: 'evo-1', picks: Array.from({ length: 257 }, () => 'g0-00') },
      { type: 'lockEvolution', session: 'evo-1', id: 'g0-00', words: [''] },
      { type: 'lockEvolution', session: 'evo-1', id: 'g0-00', words: Array.from({ length: 65 }, () => 'w') },
      { type: 'reinvertEvolution', session: 'evo-1', id: 'G0-00' },
      { type: 'exportEvolution', session: 'evo-1', dir: '' },
      { type: 'openEvolution', session: 'evo/1' },
    ])
      expect(valid(bad), JSON.stringify(bad).slice(0, 100)).toBe(false);
  });

  it('session images are evolution/<id>/images|thumbs/<file>.png and nothing else', () => {
    expect(parseEvolutionFile('evolution/evo-1/thumbs/g2-r1.png')).toEqual({ session: 'evo-1', folder: 'thumbs', file: 'g2-r1.png' });
    for (const bad of [
      'evolution/evo-1/session.json',
      'evolution/../images/a.png',
      'evolution/evo-1/images/../a.png',
      'x/evo-1/images/a.png',
      'evolution/evo-1/images/a.png/b.png',
    ])
      expect(EvolutionFileSchema.safeParse(bad).success, bad).toBe(false);
  });

  it('a job result carries the whole session', () => {
    const session: EvolutionSessionView = {
      id: 'evo-1',
      model: 'demo',
      createdAt: 't',
      updatedAt: 't',
      head: 'g0',
      settings: { seed: 0, population: 2, elite: 1, width: 64, height: 64, steps: 4, scheduler: 'ddim', guidance: 7.5 },
      generations: [{ id: 'g0', kind: 'init', members: ['g0-00'], createdAt: 't' }],
      individuals: [
        {
          id: 'g0-00',
          generation: 'g0',
          prompt: 'a fox',
          seed: 1,
          parents: [],
          operator: 'init',
          conditioning: 'text',
          locks: [],
          image: 'evolution/evo-1/images/g0-00.png',
          thumbnail: 'evolution/evo-1/thumbs/g0-00.png',
          createdAt: 't',
        },
      ],
    };
    const r = { kind: 'createEvolution', session, generation: 'g0', seconds: 1, warnings: [] };
    expect(EvolutionJobResultSchema.parse(r)).toEqual(r);
    expect(JobResultSchema.parse(r)).toEqual(r);
    const escaped = { ...session, individuals: [{ ...session.individuals[0]!, image: 'index.json' }] };
    expect(EvolutionJobResultSchema.safeParse({ ...r, session: escaped }).success).toBe(false);
  });
});
