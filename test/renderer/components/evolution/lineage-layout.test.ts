import { describe, expect, it } from 'vitest';
import { ancestry, descendants, edgePath, layoutLineage } from '../../../../src/renderer/components/evolution/lineage-layout.js';
import type { EvolutionIndividual, EvolutionSessionView } from '../../../../src/shared/ipc/evolution.js';

const ind = (
  id: string,
  parents: string[] = [],
  operator: EvolutionIndividual['operator'] = parents.length ? 'prompt-crossover' : 'init',
): EvolutionIndividual => ({
  id,
  generation: id.split('-')[0]!,
  prompt: `prompt of ${id}`,
  seed: 1,
  parents,
  operator,
  conditioning: 'text',
  locks: [],
  createdAt: 't',
});

/** g0: a b c; g1 bred from picks a,b: a carried, two children and a re-inversion of a mate; g2: a branch of g0 (all carried). */
const session: EvolutionSessionView = {
  id: 'evo-1',
  model: 'demo',
  createdAt: 't',
  updatedAt: 't',
  head: 'g2',
  settings: { seed: 0, population: 3, elite: 1, width: 64, height: 64, steps: 4, scheduler: 'ddim', guidance: 7.5 },
  generations: [
    { id: 'g0', kind: 'init', members: ['g0-00', 'g0-01', 'g0-02'], createdAt: 't' },
    { id: 'g1', parent: 'g0', kind: 'bred', members: ['g0-00', 'g1-01', 'g1-02', 'g1-r1'], picks: ['g0-00', 'g0-01'], createdAt: 't' },
    { id: 'g2', parent: 'g0', kind: 'branch', members: ['g0-00', 'g0-01', 'g0-02'], branchedFrom: 'g0-01', createdAt: 't' },
  ],
  individuals: [
    ind('g0-00'),
    ind('g0-01'),
    ind('g0-02', ['g0-00'], 'word-mutation'),
    ind('g1-01', ['g0-00', 'g0-01']),
    ind('g1-02', ['g0-01']),
    ind('g1-r1', ['g1-01'], 'reinvert'),
  ],
};

describe('lineage layout', () => {
  const l = layoutLineage(session, { size: 50, gapX: 10, gapY: 30, left: 100, top: 0 });

  it('puts each generation on its own row, members left to right, marking carried ones and the head', () => {
    expect(l.rows.map((r) => [r.generation.id, r.y, r.head])).toEqual([
      ['g0', 0, false],
      ['g1', 80, false],
      ['g2', 160, true],
    ]);
    const g1 = l.nodes.filter((n) => n.row === 1);
    expect(g1.map((n) => [n.id, n.x, n.carried])).toEqual([
      ['g0-00', 100, true],
      ['g1-01', 160, false],
      ['g1-02', 220, false],
      ['g1-r1', 280, false],
    ]);
    expect(l.nodes.filter((n) => n.row === 2).every((n) => n.carried)).toBe(true);
    expect(l.width).toBe(100 + 4 * 60);
    expect(l.height).toBe(3 * 80);
  });

  it('draws parent edges from the generation bred from, carried edges for elites and branches, and same-row edges for re-inversions', () => {
    const e = (from: string, to: string) => l.edges.find((x) => x.from === from && x.to === to);
    expect(e('g0/g0-00', 'g1/g1-01')).toMatchObject({ kind: 'parent', x1: 125, y1: 50, x2: 185, y2: 80 });
    expect(e('g0/g0-01', 'g1/g1-01')?.kind).toBe('parent');
    expect(e('g0/g0-01', 'g1/g1-02')?.kind).toBe('parent');
    expect(e('g0/g0-00', 'g0/g0-02')?.kind).toBe('parent'); // a fill-up mutation within g0
    expect(e('g1/g1-01', 'g1/g1-r1')).toMatchObject({ kind: 'parent', y1: 130, y2: 130 });
    expect(e('g0/g0-00', 'g1/g0-00')?.kind).toBe('carried');
    for (const id of ['g0-00', 'g0-01', 'g0-02']) expect(e(`g0/${id}`, `g2/${id}`)?.kind).toBe('carried');
    // g0-02, g1-01 (two parents), g1-02, g1-r1; g0-00 carried into g1; three carried into g2
    expect(l.edges).toHaveLength(1 + 2 + 1 + 1 + 1 + 3);
  });

  it('ancestry follows parents to the roots, descendants children to the leaves; edge paths are curves', () => {
    expect([...ancestry(session, 'g1-r1')].sort()).toEqual(['g0-00', 'g0-01', 'g1-01', 'g1-r1']);
    expect(ancestry(session, undefined).size).toBe(0);
    expect([...descendants(session, 'g0-01')].sort()).toEqual(['g0-01', 'g1-01', 'g1-02', 'g1-r1']);
    expect(edgePath({ from: 'a', to: 'b', kind: 'parent', x1: 0, y1: 50, x2: 60, y2: 80 })).toBe('M0,50 C0,65 60,65 60,80');
    expect(edgePath({ from: 'a', to: 'b', kind: 'parent', x1: 0, y1: 50, x2: 60, y2: 50 })).toMatch(/^M0,50 C0,\d+ 60,\d+ 60,50$/);
  });
});
