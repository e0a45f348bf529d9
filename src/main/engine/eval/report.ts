/**
 * The evaluation report: `report.md` with the paper-format tables (means ± 95% intervals per
 * method, the ablation's rows, per-seed rows), `results.csv` (one row per unit), `summary.csv`
 * (one row per group × metric), and SVG figures: one bar chart per metric, CLIP similarity of
 * the initial vs the inverted prompt's regeneration (the paper's Figs. 4–5), loss curves.
 * `buildReport` is pure (records in, file contents out); `writeReport` writes them.
 */
import path from 'node:path';
import { safeWriteFile } from '../io/safe-write.js';
import type { Ablation } from './ablation.js';
import { toCsv } from './csv.js';
import { metricColumn, type MetricColumn, type MetricProfile } from './metric-suite.js';
import type { EvalRecord } from './results-log.js';
import { summarise, type Summary } from './stats.js';
import { barChart, lineChart, scatterChart } from './svg.js';

export interface RunMeta {
  dataset: string;
  models: string;
  profile: MetricProfile;
  methods: string[];
  seeds: number[];
  preset: string;
  iterations?: number;
  size: number;
  regenSteps: number;
  ablation?: Ablation;
  columns: MetricColumn[];
  metricSources: Record<string, string>;
  skippedMetrics: { metric: string; reason: string }[];
  skippedMethods: { method: string; reason: string }[];
  warnings: string[];
  /** Optional models the methods used (captioner, CLIP, ranking, LM), by role. */
  models_used: Record<string, string>;
  /** When the report was built (default now; tests fix it). */
  date?: string;
}

export interface ReportFiles {
  /** File name (relative to the run folder) -> content. */
  files: Record<string, string>;
  /** Paths written (absolute), when written. */
  written?: string[];
}

/** The records of one table row: a method, or a method at one ablation value. */
export interface Group {
  label: string;
  method: string;
  setting?: { name: string; value: string };
  records: EvalRecord[];
}

export const PROFILE_NOTE: Record<MetricProfile, string> = {
  paper:
    'Metrics as the papers compute them: CLIP ViT-L/14 image cosine, LPIPS (AlexNet), BERTScore (bert-large-uncased layer 17, no rescaling, idf off), perplexity under GPT-2.',
  shapes:
    "**Shapes-world metrics** (the world's own instruments standing in for the paper's): CLIP = the world CLIP's image cosine (not ViT-L/14); checker(image) = slot accuracy of the scene the world's checker reads from the regeneration, in place of LPIPS as image fidelity; checker(text) = slot accuracy of what the answer says, in place of BERTScore as prompt alignment; PSNR = pixel PSNR (dB, capped at 100); PPL = perplexity under the world's n-gram language model, not GPT-2.",
};

/** The rows of the results table, in the methods' order (ablation values ascending). */
export function groupsOf(records: EvalRecord[], methods: string[]): Group[] {
  const map = new Map<string, Group>();
  for (const r of records) {
    const label = r.setting ? `${r.method} ${r.setting.name}=${r.setting.value}` : r.method;
    let g = map.get(label);
    if (!g) {
      g = { label, method: r.method, ...(r.setting ? { setting: r.setting } : {}), records: [] };
      map.set(label, g);
    }
    g.records.push(r);
  }
  const order = (g: Group) => methods.indexOf(g.method) * 1e6 + (g.setting ? Number(g.setting.value) || 0 : -1);
  return [...map.values()].sort((a, b) => order(a) - order(b) || a.label.localeCompare(b.label));
}

/** The records of a group that count in its means (finished, not failed or cancelled). */
export const scored = (g: Group) => g.records.filter((r) => r.metrics && r.error === undefined && r.stopped !== 'cancelled');

function fmtCell(s: Summary, digits: number): string {
  if (s.n === 0) return s.infinite > 0 ? `∞ (${s.infinite})` : '—';
  const m = s.mean.toFixed(digits);
  return Number.isFinite(s.ci95) ? `${m} ± ${s.ci95.toFixed(digits)}` : m;
}

function table(groups: Group[], columns: MetricColumn[], first: string): string {
  const stats = groups.map((g) => columns.map((c) => summarise(scored(g).map((r) => r.metrics![c.key]))));
  const best = columns.map((c, j) => {
    const means = stats.map((row) => row[j]!.mean).filter(Number.isFinite);
    if (means.length < 2) return NaN;
    return c.better === 'higher' ? Math.max(...means) : Math.min(...means);
  });
  const head = `| ${first} | n | ${columns.map((c) => c.label).join(' | ')} | s / image |`;
  const rule = `|${' --- |'.repeat(columns.length + 3)}`;
  const rows = groups.map((g, i) => {
    const cells = columns.map((c, j) => {
      const s = stats[i]![j]!;
      const text = fmtCell(s, c.digits);
      return s.n > 0 && s.mean === best[j] ? `**${text}**` : text;
    });
    const secs = summarise(scored(g).map((r) => r.seconds));
    return `| ${g.label} | ${scored(g).length} | ${cells.join(' | ')} | ${secs.n ? secs.mean.toFixed(1) : '—'} |`;
  });
  return [head, rule, ...rows].join('\n');
}

/** Paired difference a − b of a metric over the (item, seed) pairs both methods scored. */
export function pairedDiff(records: EvalRecord[], a: string, b: string, key: string): Summary {
  const by = (m: string) =>
    new Map(records.filter((r) => r.method === m && r.metrics && !r.setting).map((r) => [`${r.item}|${r.seed}`, r.metrics![key]]));
  const A = by(a);
  const B = by(b);
  const diffs: number[] = [];
  for (const [k, v] of A) {
    const w = B.get(k);
    if (typeof v === 'number' && typeof w === 'number' && Number.isFinite(v) && Number.isFinite(w)) diffs.push(v - w);
  }
  return summarise(diffs);
}

function lossCurves(groups: Group[]): { name: string; xs: number[]; ys: number[] }[] {
  const out: { name: string; xs: number[]; ys: number[] }[] = [];
  for (const g of groups) {
    const curves = scored(g).filter((r) => r.loss && r.loss.length > 1 && Number.isFinite(r.loss[0]!) && r.loss[0] !== 0);
    if (curves.length === 0) continue;
    const stride = curves[0]!.lossStride ?? 1;
    const len = Math.max(...curves.map((r) => r.loss!.length));
    const xs: number[] = [];
    const ys: number[] = [];
    for (let k = 0; k < len; k++) {
      const vals = curves.filter((r) => (r.lossStride ?? 1) === stride && k < r.loss!.length).map((r) => r.loss![k]! / r.loss![0]!);
      if (vals.length === 0) continue;
      xs.push(k * stride);
      ys.push(vals.reduce((a, b) => a + b, 0) / vals.length);
    }
    out.push({ name: g.label, xs, ys });
  }
  return out;
}

export function buildReport(records: EvalRecord[], meta: RunMeta): ReportFiles {
  const files: Record<string, string> = {};
  const groups = groupsOf(records, meta.methods);
  const cols = meta.columns;
  const md: string[] = [];
  const date = meta.date ?? new Date().toISOString();
  md.push(`# Evaluation: ${meta.dataset} on ${meta.models}`, '');
  md.push(
    `${date} · methods ${meta.methods.join(', ')} · seeds ${meta.seeds.join(', ')} · preset ${meta.preset}` +
      `${meta.iterations !== undefined ? ` · ${meta.iterations} iterations` : " · the preset's iterations"} · ${meta.size}×${meta.size} · regenerations with ${meta.regenSteps} sampler steps` +
      `${meta.ablation ? ` · ablation of ${meta.ablation.setting} over ${meta.ablation.values.join(', ')}` : ''}`,
    '',
  );
  md.push(PROFILE_NOTE[meta.profile], '');
  const used = Object.entries(meta.models_used).map(([k, v]) => `${k}: ${v}`);
  if (used.length) md.push(`Models used by the methods: ${used.join('; ')}.`, '');
  const sources = Object.entries(meta.metricSources).map(([k, v]) => `${metricColumn(k)?.label ?? k}: ${v}`);
  if (sources.length) md.push(`Metric models: ${sources.join('; ')}.`, '');

  md.push(
    '## Results',
    '',
    'Means ± 95% confidence intervals (Student t over the items × seeds scored); bold: the best mean of a column.',
    '',
  );
  if (groups.length === 0) md.push('_No results yet._', '');
  else md.push(table(groups, cols, meta.ablation ? 'method / setting' : 'method'), '');

  // The caption baseline against EDITOR (the paper's Table 5), paired per item and seed.
  if (meta.methods.includes('editor') && meta.methods.includes('caption') && !meta.ablation) {
    const lines = cols
      .map((c) => ({ c, d: pairedDiff(records, 'editor', 'caption', c.key) }))
      .filter(({ d }) => d.n > 0)
      .map(({ c, d }) => `| ${c.label} | ${d.n} | ${fmtCell(d, c.digits)} |`);
    if (lines.length)
      md.push('### EDITOR − caption (paired, Table 5)', '', '| metric | pairs | EDITOR − caption |', '| --- | --- | --- |', ...lines, '');
  }

  if (meta.seeds.length > 1 && !meta.ablation) {
    const bySeed = meta.seeds.flatMap((seed) =>
      groups
        .map((g) => ({ ...g, label: `${g.label} seed ${seed}`, records: g.records.filter((r) => r.seed === seed) }))
        .filter((g) => g.records.length > 0),
    );
    md.push('### Per seed (Table 13)', '', table(bySeed, cols, 'method / seed'), '');
  }

  // Figures.
  md.push('## Figures', '');
  const main = groups;
  for (const c of cols) {
    const stats = main.map((g) => summarise(scored(g).map((r) => r.metrics![c.key])));
    if (!stats.some((s) => s.n > 0)) continue;
    const name = `fig-${c.key}.svg`;
    files[name] = barChart({
      title: `${c.label.replace(/ [↑↓]$/, '')} by method (mean ± 95% CI)`,
      labels: main.map((g) => g.label),
      values: stats.map((s) => s.mean),
      errors: stats.map((s) => s.ci95),
      yLabel: c.label,
    });
    md.push(`![${c.label}](${name})`);
  }
  md.push('');
  if (cols.some((c) => c.key === 'clip')) {
    const series = main
      .filter((g) => g.method !== 'caption')
      .map((g) => ({
        name: g.label,
        points: scored(g)
          .map((r) => [r.metrics!.clipInitial, r.metrics!.clip] as const)
          .filter((p): p is readonly [number, number] => typeof p[0] === 'number' && typeof p[1] === 'number')
          .map((p) => [p[0], p[1]] as [number, number]),
      }))
      .filter((s) => s.points.length > 0);
    if (series.length) {
      files['fig-initial-vs-inverted.svg'] = scatterChart({
        title: 'CLIP similarity to the target: initial vs inverted prompt (Figs. 4–5)',
        series,
        xLabel: "initial prompt's regeneration",
        yLabel: "inverted prompt's regeneration",
      });
      md.push(
        '![initial vs inverted](fig-initial-vs-inverted.svg)',
        '',
        'Points above the diagonal: the inverted prompt regenerates closer to the target than the prompt it started from (EDITOR: the caption; PH2P/PEZ: random tokens).',
        '',
      );
    }
  }
  const curves = lossCurves(main);
  if (curves.length) {
    files['fig-loss.svg'] = lineChart({
      title: 'Loss curves (mean of loss / first loss)',
      series: curves,
      xLabel: 'iteration',
      yLabel: 'loss / first loss',
    });
    md.push(
      '![loss curves](fig-loss.svg)',
      '',
      "Each method's own objective (EDITOR: its refinement loss; PH2P: noise prediction at a random t, so noisy; PEZ: 1 − CLIP cosine).",
      '',
    );
  }

  const failed = records.filter((r) => r.error !== undefined);
  const cancelled = records.filter((r) => r.stopped === 'cancelled');
  if (failed.length || cancelled.length || meta.skippedMethods.length || meta.skippedMetrics.length || meta.warnings.length)
    md.push('## Problems', '');
  if (failed.length)
    md.push(
      `Failed units (${failed.length}; a rerun retries them):`,
      '',
      ...failed.map(
        (r) => `- ${r.item} · ${r.method} · seed ${r.seed}${r.setting ? ` · ${r.setting.name}=${r.setting.value}` : ''}: ${r.error}`,
      ),
      '',
    );
  if (cancelled.length)
    md.push(`Cancelled units (${cancelled.length}; a rerun redoes them): ${cancelled.map((r) => r.key).join(', ')}`, '');
  if (meta.skippedMethods.length) md.push('Methods not run:', '', ...meta.skippedMethods.map((s) => `- ${s.method}: ${s.reason}`), '');
  if (meta.skippedMetrics.length) md.push('Metrics not computed:', '', ...meta.skippedMetrics.map((s) => `- ${s.metric}: ${s.reason}`), '');
  if (meta.warnings.length) md.push('Warnings:', '', ...meta.warnings.map((w) => `- ${w}`), '');

  md.push(
    '## Files',
    '',
    '`results.jsonl` (one record per unit, the resume log), `results.csv`, `summary.csv`, `images/` (regenerations), the `fig-*.svg` figures.',
    '',
  );
  md.push('Legend: ' + cols.map((c) => `${c.label} — ${c.description}`).join('; ') + '.', '');
  files['report.md'] = md.join('\n');

  const keys = [...cols.map((c) => c.key), 'clipInitial'];
  files['results.csv'] = toCsv([
    [
      'key',
      'item',
      'method',
      'seed',
      'setting',
      'value',
      'reference',
      'prompt',
      'initial_prompt',
      ...keys,
      'iterations',
      'seconds',
      'stopped',
      'error',
    ],
    ...records.map((r) => [
      r.key,
      r.item,
      r.method,
      r.seed,
      r.setting?.name,
      r.setting?.value,
      r.reference,
      r.prompt,
      r.initialPrompt,
      ...keys.map((k) => r.metrics?.[k] ?? null),
      r.iterations,
      r.seconds !== undefined ? Number(r.seconds.toFixed(3)) : undefined,
      r.stopped,
      r.error,
    ]),
  ]);
  files['summary.csv'] = toCsv([
    ['group', 'method', 'setting', 'value', 'metric', 'n', 'mean', 'ci95'],
    ...groups.flatMap((g) =>
      keys.map((k) => {
        const s = summarise(scored(g).map((r) => r.metrics![k]));
        return [
          g.label,
          g.method,
          g.setting?.name,
          g.setting?.value,
          k,
          s.n,
          Number.isFinite(s.mean) ? s.mean : null,
          Number.isFinite(s.ci95) ? s.ci95 : null,
        ];
      }),
    ),
  ]);
  return { files };
}

/** Build the report and write its files into `runDir` (through safe-write). */
export async function writeReport(runDir: string, records: EvalRecord[], meta: RunMeta): Promise<ReportFiles> {
  const r = buildReport(records, meta);
  const written: string[] = [];
  for (const [name, content] of Object.entries(r.files)) {
    const file = path.join(runDir, name);
    await safeWriteFile(file, content, { mkdir: true, what: `the report file ${name}` });
    written.push(file);
  }
  return { ...r, written };
}
