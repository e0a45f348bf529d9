import { describe, expect, it } from 'vitest';
import { metricColumn } from '../../../../src/main/engine/eval/metric-suite.js';
import { buildReport, type RunMeta } from '../../../../src/main/engine/eval/report.js';
import type { EvalRecord } from '../../../../src/main/engine/eval/results-log.js';
import { parseCsv } from '../../../../src/main/engine/eval/csv.js';

const columns = ['clip', 'ppl', 'wordF1'].map((k) => metricColumn(k)!);
const meta: RunMeta = {
  dataset: 'shapes:3',
  models: 'shapes',
  profile: 'shapes',
  methods: ['editor', 'pez', 'caption'],
  seeds: [0],
  preset: 'fast',
  iterations: 20,
  size: 64,
  regenSteps: 10,
  columns,
  metricSources: { clip: 'shapes-clip', ppl: 'shapes-lm', wordF1: 'words' },
  skippedMetrics: [{ metric: 'lpips', reason: 'LPIPS is not installed' }],
  skippedMethods: [{ method: 'ph2p', reason: 'PH2P needs a VAE encoder' }],
  warnings: [],
  models_used: { captioner: 'shapes-captioner' },
  date: '2026-01-01T00:00:00.000Z',
};

function rec(item: string, method: EvalRecord['method'], m: Record<string, number>, extra: Partial<EvalRecord> = {}): EvalRecord {
  return {
    key: `${item}|${method}|seed=0`,
    item,
    method,
    seed: 0,
    reference: 'a red circle',
    prompt: 'p',
    initialPrompt: 'i',
    metrics: m,
    loss: [4, 2, 1],
    lossStride: 1,
    seconds: 2,
    finishedAt: 'x',
    ...extra,
  };
}

const records: EvalRecord[] = [
  rec('s0', 'editor', { clip: 0.8, clipInitial: 0.7, ppl: 3, wordF1: 1 }),
  rec('s1', 'editor', { clip: 0.9, clipInitial: 0.75, ppl: 5, wordF1: 0.5 }),
  rec('s2', 'editor', { clip: 0.7, clipInitial: 0.72, ppl: 4, wordF1: 0.75 }),
  rec('s0', 'pez', { clip: 0.85, clipInitial: 0.2, ppl: 900, wordF1: 0 }, { loss: [0.9, 0.6] }),
  rec('s0', 'caption', { clip: 0.6, ppl: 2, wordF1: 1 }, { loss: [] }),
  rec('s1', 'caption', { clip: 0.7, ppl: 2, wordF1: 1 }, { loss: [] }),
  {
    key: 's2|caption|seed=0',
    item: 's2',
    method: 'caption',
    seed: 0,
    reference: 'x',
    error: 'cannot read s2.png: no such file',
    finishedAt: 'x',
  },
];

describe('the report builder', () => {
  const r = buildReport(records, meta);
  const md = r.files['report.md']!;

  it('gives mean ± 95% CI per method in the paper table, the best mean in bold', () => {
    // editor CLIP: 0.8, 0.9, 0.7 -> mean 0.8, s = 0.1, t(2) = 4.303 -> ± 0.248.
    // word F1 1, 0.5, 0.75 -> 0.75 ± 4.303 * 0.25 / sqrt(3) = 0.621; PPL 3, 5, 4 -> 4 ± 2.5.
    expect(md).toContain('| editor | 3 | 0.800 ± 0.248 | 4.0 ± 2.5 | 0.750 ± 0.621 | 2.0 |');
    // pez: one item, no interval; its CLIP 0.85 is the best CLIP.
    expect(md).toContain('| pez | 1 | **0.850** | 900.0 | 0.000 | 2.0 |');
    // caption: the failed unit is not counted; its PPL (lowest) and word F1 (highest) are the best.
    expect(md).toContain('| caption | 2 | 0.650 ± 0.635 | **2.0 ± 0.0** | **1.000 ± 0.000** | 2.0 |');
    expect(md).toContain('| method | n | CLIP ↑ | PPL ↓ | word F1 ↑ | s / image |');
  });

  it('labels the shapes-world metrics, lists failures and what was skipped', () => {
    expect(md).toMatch(/\*\*Shapes-world metrics\*\*/);
    expect(md).toContain('- s2 · caption · seed 0: cannot read s2.png: no such file');
    expect(md).toContain('- ph2p: PH2P needs a VAE encoder');
    expect(md).toContain('- lpips: LPIPS is not installed');
  });

  it('pairs EDITOR with the caption per item (Table 5)', () => {
    // Pairs s0, s1: CLIP differences 0.2, 0.2 -> 0.200 (sd 0, interval 0).
    expect(md).toContain('| CLIP ↑ | 2 | 0.200 ± 0.000 |');
  });

  it('draws a bar chart per metric, initial-vs-inverted CLIP and the loss curves', () => {
    expect(Object.keys(r.files).sort()).toEqual([
      'fig-clip.svg',
      'fig-initial-vs-inverted.svg',
      'fig-loss.svg',
      'fig-ppl.svg',
      'fig-wordF1.svg',
      'report.md',
      'results.csv',
      'summary.csv',
    ]);
    const bars = r.files['fig-clip.svg']!;
    expect(bars.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(bars.match(/<rect x=/g)).toHaveLength(3);
    expect(bars).toContain('>editor<');
    // 4 scatter points (3 editor + 1 pez; the caption has no initial prompt to compare).
    expect(r.files['fig-initial-vs-inverted.svg']!.match(/<circle /g)).toHaveLength(4);
    // Two loss curves (editor, pez); none for the caption.
    expect(r.files['fig-loss.svg']!.match(/<path d="M/g)).toHaveLength(2);
    expect(md).toContain('![initial vs inverted](fig-initial-vs-inverted.svg)');
  });

  it('writes every record to results.csv and one row per group × metric to summary.csv', () => {
    const rows = parseCsv(r.files['results.csv']!);
    expect(rows[0]!.slice(0, 9)).toEqual(['key', 'item', 'method', 'seed', 'setting', 'value', 'reference', 'prompt', 'initial_prompt']);
    expect(rows).toHaveLength(records.length + 1);
    expect(rows.at(-1)!.at(-1)).toBe('cannot read s2.png: no such file');
    const summary = parseCsv(r.files['summary.csv']!);
    const editorClip = summary.find((x) => x[0] === 'editor' && x[4] === 'clip')!;
    expect(Number(editorClip[6])).toBeCloseTo(0.8, 10);
    expect(Number(editorClip[7])).toBeCloseTo(0.248, 3);
  });

  it('groups by setting value in an ablation', () => {
    const abl = buildReport(
      [
        rec('s0', 'editor', { clip: 0.5, ppl: 1, wordF1: 1 }, { key: 'a', setting: { name: 'iterations', value: '100' } }),
        rec('s0', 'editor', { clip: 0.6, ppl: 1, wordF1: 1 }, { key: 'b', setting: { name: 'iterations', value: '300' } }),
      ],
      { ...meta, ablation: { setting: 'iterations', values: ['100', '300'] } },
    ).files['report.md']!;
    expect(abl).toContain('| editor iterations=100 | 1 | 0.500 |');
    expect(abl).toContain('| editor iterations=300 | 1 | **0.600** |');
  });
});
