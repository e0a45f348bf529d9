/**
 * The report's tables as data agree with report.md cell for cell (the studio formats a cell as
 * report.md does), and the figures come with report.md's captions.
 */
import { describe, expect, it } from 'vitest';
import { metricColumn } from '../../../../src/main/engine/eval/metric-suite.js';
import { reportFigures, reportTables } from '../../../../src/main/engine/eval/report-data.js';
import { buildReport, type RunMeta } from '../../../../src/main/engine/eval/report.js';
import type { EvalRecord } from '../../../../src/main/engine/eval/results-log.js';
import { formatCell } from '../../../../src/renderer/lib/evaluation.js';

const columns = ['clip', 'ppl', 'wordF1'].map((k) => metricColumn(k)!);
const meta: RunMeta = {
  dataset: 'data',
  models: 'demo',
  profile: 'paper',
  methods: ['editor', 'ph2p', 'caption'],
  seeds: [0, 1],
  preset: 'fast',
  size: 64,
  regenSteps: 1,
  columns,
  metricSources: {},
  skippedMetrics: [],
  skippedMethods: [],
  warnings: [],
  models_used: {},
  date: '2026-01-01T00:00:00.000Z',
};

function rec(item: string, method: EvalRecord['method'], seed: number, m: Record<string, number>, seconds = 2): EvalRecord {
  return {
    key: `${item}|${method}|seed=${seed}`,
    item,
    method,
    seed,
    reference: 'a red cat',
    prompt: 'p',
    initialPrompt: 'i',
    metrics: m,
    loss: [4, 2, 1],
    lossStride: 1,
    seconds,
    finishedAt: 'x',
  };
}

const records: EvalRecord[] = [
  rec('a', 'editor', 0, { clip: 0.8, clipInitial: 0.7, ppl: 30, wordF1: 1 }, 3),
  rec('b', 'editor', 0, { clip: 0.6, clipInitial: 0.65, ppl: 50, wordF1: 0.5 }, 5),
  rec('a', 'editor', 1, { clip: 0.7, clipInitial: 0.7, ppl: 40, wordF1: 0.75 }, 4),
  rec('a', 'ph2p', 0, { clip: 0.9, clipInitial: 0.1, ppl: 900, wordF1: 0 }),
  rec('a', 'caption', 0, { clip: 0.5, ppl: 20, wordF1: 1 }),
  rec('b', 'caption', 0, { clip: 0.55, ppl: 25, wordF1: 0.5 }),
  { key: 'c|caption|seed=0', item: 'c', method: 'caption', seed: 0, reference: 'x', error: 'unreadable', finishedAt: 'x' },
];

/** The markdown table rows under `heading`, as cells (label first). */
function mdRows(md: string, heading: string): string[][] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 1)) {
    if (rows.length > 0 && !l.startsWith('|')) break;
    if (l.startsWith('|') && !l.startsWith('| ---'))
      rows.push(
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim().replace(/^\*\*(.*)\*\*$/, '$1')),
      );
  }
  return rows;
}

describe('reportTables', () => {
  const tables = reportTables(records, meta);
  const md = buildReport(records, meta).files['report.md']!;

  it('gives the results table of report.md: rows, n, mean ± 95% interval per metric, bold best', () => {
    const results = tables.find((t) => t.id === 'results')!;
    expect(results.columns.map((c) => c.key)).toEqual(['clip', 'ppl', 'wordF1']);
    expect(results.rows.map((r) => r.label)).toEqual(['editor', 'ph2p', 'caption']);
    const editor = results.rows[0]!;
    expect(editor.n).toBe(3);
    expect(editor.cells[0]!.mean).toBeCloseTo(0.7, 12);
    // sd 0.1, t(0.975, 2) = 4.303: 4.303 · 0.1 / √3
    expect(editor.cells[0]!.ci95).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 9);
    expect(editor.secondsPerImage).toBeCloseTo(4, 12);
    // ph2p has one value: a mean without an interval; it has the best CLIP, caption the best perplexity.
    expect(results.rows[1]!.cells[0]).toMatchObject({ n: 1, mean: 0.9, best: true });
    expect(Number.isNaN(results.rows[1]!.cells[0]!.ci95)).toBe(true);
    expect(results.rows[2]!.cells[1]!.best).toBe(true);
    expect(results.rows[2]!.n).toBe(2); // the failed unit is not counted

    const fromMd = mdRows(md, '## Results');
    expect(fromMd[0]).toEqual(['method', 'n', 'CLIP ↑', 'PPL ↓', 'word F1 ↑', 's / image']);
    for (const [i, row] of results.rows.entries()) {
      const cells = row.cells.map((c, j) =>
        formatCell({ ...c, mean: c.mean, ci95: Number.isNaN(c.ci95) ? null : c.ci95 }, results.columns[j]!),
      );
      expect([row.label, String(row.n), ...cells]).toEqual(fromMd[i + 1]!.slice(0, -1));
    }
  });

  it('pairs EDITOR with the caption per item and seed (Table 5) and splits by seed (Table 13)', () => {
    const paired = tables.find((t) => t.id === 'paired')!;
    // Pairs (a, 0) and (b, 0): clip differences 0.3 and 0.05.
    expect(paired.rows[0]!.cells[0]!.n).toBe(2);
    expect(paired.rows[0]!.cells[0]!.mean).toBeCloseTo(0.175, 12);
    const perSeed = tables.find((t) => t.id === 'per-seed')!;
    expect(perSeed.rows.map((r) => [r.label, r.seed, r.n])).toEqual([
      ['editor seed 0', 0, 2],
      ['ph2p seed 0', 0, 1],
      ['caption seed 0', 0, 2],
      ['editor seed 1', 1, 1],
    ]);
  });

  it('labels ablation rows by setting and leaves out the paired and per-seed tables there', () => {
    const ab = { ...meta, ablation: { setting: 'iterations' as const, values: ['10', '50'] }, seeds: [0] };
    const rows = [
      { ...rec('a', 'editor', 0, { clip: 0.5, ppl: 10, wordF1: 1 }), setting: { name: 'iterations', value: '50' }, key: 'k50' },
      { ...rec('a', 'editor', 0, { clip: 0.4, ppl: 10, wordF1: 1 }), setting: { name: 'iterations', value: '10' }, key: 'k10' },
    ];
    const t = reportTables(rows, ab);
    expect(t.map((x) => x.id)).toEqual(['results']);
    expect(t[0]!.rowHeader).toBe('method / setting');
    expect(t[0]!.rows.map((r) => [r.label, r.setting?.value])).toEqual([
      ['editor iterations=10', '10'],
      ['editor iterations=50', '50'],
    ]);
  });
});

describe('reportFigures', () => {
  it("returns report.md's figures in its order with its captions", () => {
    const figs = reportFigures(records, meta);
    const names = figs.map((f) => f.name);
    expect(names.slice(0, 3)).toEqual(['fig-clip.svg', 'fig-ppl.svg', 'fig-wordF1.svg']);
    expect(names).toEqual(expect.arrayContaining(['fig-initial-vs-inverted.svg', 'fig-loss.svg']));
    expect(figs.find((f) => f.name === 'fig-clip.svg')!.title).toBe('CLIP ↑');
    expect(figs.find((f) => f.name === 'fig-loss.svg')!.title).toBe('loss curves');
    for (const f of figs) expect(f.svg.startsWith('<svg')).toBe(true);
  });
});
