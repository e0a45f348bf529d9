/**
 * The report's tables and figures as data, for a UI that draws them itself (the studio's Evaluate
 * page): the same rows, means ± 95% intervals and bold cells as report.md's tables, and the SVG
 * figures with their titles. Pure, like buildReport.
 */
import type { MetricColumn } from './metric-suite.js';
import { buildReport, groupsOf, pairedDiff, scored, type Group, type RunMeta } from './report.js';
import type { EvalRecord } from './results-log.js';
import { summarise, type Summary } from './stats.js';

export interface TableCell {
  /** Finite values counted. */
  n: number;
  /** NaN when no value was counted. */
  mean: number;
  /** Half-width of the 95% interval; NaN with fewer than 2 values. */
  ci95: number;
  /** Infinite values left out of the mean. */
  infinite: number;
  /** The best mean of its column (when two or more rows have one). */
  best: boolean;
}

export interface TableRow {
  label: string;
  method?: string;
  setting?: { name: string; value: string };
  seed?: number;
  /** Units scored. */
  n: number;
  /** One per column of the table. */
  cells: TableCell[];
  /** Mean seconds of the method per unit (NaN when none was scored). */
  secondsPerImage: number;
}

export interface ReportTable {
  /** `results` (Tables 2–3 or the ablation), `paired` (EDITOR − caption, Table 5), `per-seed` (Table 13). */
  id: 'results' | 'paired' | 'per-seed';
  title: string;
  rowHeader: string;
  columns: MetricColumn[];
  rows: TableRow[];
}

export interface ReportFigure {
  /** File name in the run folder (`fig-clip.svg`). */
  name: string;
  title: string;
  svg: string;
}

const cellOf = (s: Summary): TableCell => ({ n: s.n, mean: s.mean, ci95: s.ci95, infinite: s.infinite, best: false });

function tableRows(groups: (Group & { seed?: number })[], columns: MetricColumn[]): TableRow[] {
  const rows = groups.map((g): TableRow => {
    const done = scored(g);
    return {
      label: g.label,
      method: g.method,
      ...(g.setting ? { setting: g.setting } : {}),
      ...(g.seed !== undefined ? { seed: g.seed } : {}),
      n: done.length,
      cells: columns.map((c) => cellOf(summarise(done.map((r) => r.metrics![c.key])))),
      secondsPerImage: summarise(done.map((r) => r.seconds)).mean,
    };
  });
  // Bold as report.md: the best finite mean of a column, when at least two rows have one.
  columns.forEach((c, j) => {
    const means = rows.map((r) => r.cells[j]!.mean).filter(Number.isFinite);
    if (means.length < 2) return;
    const best = c.better === 'higher' ? Math.max(...means) : Math.min(...means);
    for (const r of rows) if (r.cells[j]!.n > 0 && r.cells[j]!.mean === best) r.cells[j]!.best = true;
  });
  return rows;
}

/** The tables of report.md for these records: results, EDITOR − caption (paired), per seed. */
export function reportTables(records: EvalRecord[], meta: RunMeta): ReportTable[] {
  const cols = meta.columns;
  const groups = groupsOf(records, meta.methods);
  const tables: ReportTable[] = [
    {
      id: 'results',
      title: meta.ablation ? `Ablation of ${meta.ablation.setting}` : 'Results',
      rowHeader: meta.ablation ? 'method / setting' : 'method',
      columns: cols,
      rows: tableRows(groups, cols),
    },
  ];
  if (meta.methods.includes('editor') && meta.methods.includes('caption') && !meta.ablation) {
    const cells = cols.map((c) => cellOf(pairedDiff(records, 'editor', 'caption', c.key)));
    if (cells.some((c) => c.n > 0))
      tables.push({
        id: 'paired',
        title: 'EDITOR − caption (paired per item and seed, Table 5)',
        rowHeader: 'difference',
        columns: cols,
        rows: [{ label: 'EDITOR − caption', n: Math.max(...cells.map((c) => c.n)), cells, secondsPerImage: NaN }],
      });
  }
  if (meta.seeds.length > 1 && !meta.ablation) {
    const bySeed = meta.seeds.flatMap((seed) =>
      groups
        .map((g) => ({ ...g, seed, label: `${g.label} seed ${seed}`, records: g.records.filter((r) => r.seed === seed) }))
        .filter((g) => g.records.length > 0),
    );
    tables.push({ id: 'per-seed', title: 'Per seed (Table 13)', rowHeader: 'method / seed', columns: cols, rows: tableRows(bySeed, cols) });
  }
  return tables;
}

/** The report's SVG figures, in report.md's order, titled as report.md's image captions. */
export function reportFigures(records: EvalRecord[], meta: RunMeta): ReportFigure[] {
  const { files } = buildReport(records, meta);
  const md = files['report.md'] ?? '';
  const titles = new Map<string, string>();
  for (const m of md.matchAll(/!\[([^\]]*)\]\((fig-[^)]+\.svg)\)/g)) titles.set(m[2]!, m[1]!);
  const names = Object.keys(files).filter((f) => /^fig-.*\.svg$/.test(f));
  const order = (f: string) => (titles.has(f) ? [...titles.keys()].indexOf(f) : Number.MAX_SAFE_INTEGER);
  return names
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b))
    .map((name) => ({ name, title: titles.get(name) || name, svg: files[name]! }));
}
