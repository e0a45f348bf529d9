/**
 * The studio's evaluation runs, each a folder `<library>/evaluations/<id>/`: the harness's files
 * (results.jsonl, run.json, report.md, CSVs, fig-*.svg, images/: docs/evaluation.md) and
 * `studio.json`, what the studio knows of the run (its options, state, units done). The report a
 * client sees (the `eval` job's result and `getEvaluation`) is rebuilt from run.json and
 * results.jsonl each time, with the engine's own table and figure code, so a run reopened after a
 * crash shows exactly what was finished.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { EngineError } from '../engine/errors.js';
import { safeWriteFile } from '../engine/io/safe-write.js';
import type { MetricColumn } from '../engine/eval/metric-suite.js';
import { reportFigures, reportTables, type ReportTable, type TableCell } from '../engine/eval/report-data.js';
import { PROFILE_NOTE, type RunMeta } from '../engine/eval/report.js';
import { isDone, ResultsLog, type EvalRecord } from '../engine/eval/results-log.js';
import { ErrorInfoSchema, IdSchema, TimestampSchema } from '../../shared/ipc/common.js';
import {
  datasetLabel,
  EvalSpecSchema,
  EvalStateSchema,
  isInertSvg,
  type EvalCell,
  type EvalColumn,
  type EvalSpec,
  type EvalTable,
  type Evaluation,
  type EvaluationSummary,
} from '../../shared/ipc/eval.js';
import {
  ID_PATTERN,
  MAX_EVAL_COLUMNS,
  MAX_EVAL_FIGURE_CHARS,
  MAX_EVAL_FIGURES,
  MAX_EVAL_TABLE_ROWS,
  MAX_EVALUATIONS,
  MAX_MESSAGE_TEXT_CHARS,
} from '../../shared/ipc/limits.js';
import { isMethodName } from '../engine/inversion/methods/types.js';

/** The library's sub-folder of evaluation runs (library.ts counts it as the library's own). */
export const EVALUATIONS_DIR = 'evaluations';
const STUDIO_FILE = 'studio.json';
const FORMAT = 'inversion-studio-evaluation';

/** What studio.json holds. */
export const RunRecordSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(1),
  id: IdSchema,
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema,
  spec: EvalSpecSchema,
  /** As last written: `running` while its job runs (or when the engine stopped during it). */
  state: EvalStateSchema.exclude(['interrupted']),
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  failed: z.number().int().min(0),
  error: ErrorInfoSchema.optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** Runs whose job is running in this process: a stored `running` run that is not here was interrupted. */
export const activeRuns = new Set<string>();

/** `eval-20260101-120000-1a2b3c` (sortable by time, an IdSchema id). */
export function newEvaluationId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `eval-${t}-${randomBytes(3).toString('hex')}`;
}

export function evaluationsDir(libraryDir: string): string {
  return path.join(libraryDir, EVALUATIONS_DIR);
}

/** The run folder of `id`. @throws EngineError('INVALID_ARGUMENT') for an id that is not one */
export function runDirOf(libraryDir: string, id: string): string {
  if (!ID_PATTERN.test(id) || id.startsWith('.')) throw new EngineError('INVALID_ARGUMENT', `'${id}' is not an evaluation id`);
  return path.join(evaluationsDir(libraryDir), id);
}

export function newRunRecord(id: string, spec: EvalSpec, now = new Date().toISOString()): RunRecord {
  return { format: FORMAT, version: 1, id, createdAt: now, updatedAt: now, spec, state: 'running', done: 0, total: 0, failed: 0 };
}

export async function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  await safeWriteFile(path.join(dir, STUDIO_FILE), JSON.stringify(record, null, 2) + '\n', { mkdir: true, what: 'the evaluation record' });
}

/** The run's studio.json; undefined when absent or not ours (unreadable, another format). */
export async function readRunRecord(dir: string): Promise<RunRecord | undefined> {
  const text = await readFile(path.join(dir, STUDIO_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const r = RunRecordSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** JSON with object keys sorted, so equal values give equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The same options (what continuing a run needs); a folder dataset compares by its absolute path. */
export function sameSpec(a: EvalSpec, b: EvalSpec): boolean {
  const norm = (s: EvalSpec): EvalSpec =>
    s.dataset.kind === 'folder' ? { ...s, dataset: { kind: 'folder', path: path.resolve(s.dataset.path) } } : s;
  return canonical(norm(a)) === canonical(norm(b));
}

function summaryOf(dir: string, r: RunRecord): EvaluationSummary {
  return {
    id: r.id,
    dir,
    spec: r.spec,
    state: r.state === 'running' && !activeRuns.has(r.id) ? 'interrupted' : r.state,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    done: r.done,
    total: r.total,
    failed: r.failed,
    ...(r.error ? { error: r.error } : {}),
  };
}

/** The library's evaluation runs, newest first (folders without a readable studio.json are left out). */
export async function listEvaluations(libraryDir: string): Promise<EvaluationSummary[]> {
  const root = evaluationsDir(libraryDir);
  const names = (await readdir(root, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && ID_PATTERN.test(e.name))
    .map((e) => e.name);
  const out: EvaluationSummary[] = [];
  for (const name of names) {
    const dir = path.join(root, name);
    const r = await readRunRecord(dir);
    if (r && r.id === name) out.push(summaryOf(dir, r));
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)).slice(0, MAX_EVALUATIONS);
}

/** run.json as the runner writes it (RunMeta + startedAt); only what the report needs is checked. */
const RunMetaSchema = z.object({
  dataset: z.string(),
  models: z.string(),
  profile: z.enum(['paper', 'shapes']),
  methods: z.array(z.string()),
  seeds: z.array(z.number()),
  preset: z.string(),
  iterations: z.number().optional(),
  size: z.number(),
  regenSteps: z.number(),
  ablation: z.object({ setting: z.string(), values: z.array(z.string()) }).optional(),
  columns: z.array(
    z.object({ key: z.string(), label: z.string(), better: z.enum(['higher', 'lower']), digits: z.number(), description: z.string() }),
  ),
  metricSources: z.record(z.string(), z.string()).default({}),
  skippedMetrics: z.array(z.object({ metric: z.string(), reason: z.string() })).default([]),
  skippedMethods: z.array(z.object({ method: z.string(), reason: z.string() })).default([]),
  warnings: z.array(z.string()).default([]),
  models_used: z.record(z.string(), z.string()).default({}),
  startedAt: z.string().optional(),
});

async function readRunMeta(dir: string): Promise<{ meta?: RunMeta; problem?: string }> {
  const text = await readFile(path.join(dir, 'run.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  try {
    const m = RunMetaSchema.parse(JSON.parse(text));
    const { startedAt, ...meta } = m;
    return { meta: { ...(meta as unknown as RunMeta), ...(startedAt ? { date: startedAt } : {}) } };
  } catch (e) {
    return { problem: `run.json could not be read (${e instanceof Error ? e.message.slice(0, 200) : String(e)}); the tables are left out` };
  }
}

const text = (s: string, n = MAX_MESSAGE_TEXT_CHARS) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

function wireColumn(c: MetricColumn): EvalColumn {
  return {
    key: c.key.slice(0, 64),
    label: c.label.slice(0, 64) || c.key.slice(0, 64),
    better: c.better,
    digits: Math.max(0, Math.min(8, Math.round(c.digits))),
    description: text(c.description),
  };
}
const wireCell = (c: TableCell): EvalCell => ({ n: c.n, mean: finite(c.mean), ci95: finite(c.ci95), infinite: c.infinite, best: c.best });

function wireTable(t: ReportTable): EvalTable {
  return {
    id: t.id,
    title: t.title.slice(0, 256),
    rowHeader: t.rowHeader.slice(0, 64),
    columns: t.columns.slice(0, MAX_EVAL_COLUMNS).map(wireColumn),
    rows: t.rows.slice(0, MAX_EVAL_TABLE_ROWS).map((r) => ({
      label: r.label.slice(0, 256) || '?',
      ...(r.method && isMethodName(r.method) ? { method: r.method } : {}),
      ...(r.setting ? { setting: { name: r.setting.name.slice(0, 64), value: r.setting.value.slice(0, 64) } } : {}),
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      n: r.n,
      cells: r.cells.slice(0, MAX_EVAL_COLUMNS).map(wireCell),
      secondsPerImage: finite(r.secondsPerImage),
    })),
  };
}

/**
 * A run's report as data: its tables and figures rebuilt from run.json and results.jsonl.
 * @throws EngineError('INVALID_ARGUMENT') when the library has no evaluation `id`
 */
export async function readEvaluation(libraryDir: string, id: string): Promise<Evaluation> {
  const dir = runDirOf(libraryDir, id);
  const record = existsSync(dir) ? await readRunRecord(dir) : undefined;
  if (!record) throw new EngineError('INVALID_ARGUMENT', `this library has no evaluation '${id}' (${dir})`);
  const { meta, problem } = await readRunMeta(dir);
  const { log, problems } = await ResultsLog.open(path.join(dir, 'results.jsonl'));
  const warnings = [...(meta?.warnings ?? []), ...problems, ...(problem ? [problem] : [])];
  // The run's options are fixed (a continued run must keep them), so every record is one of its units.
  const records: EvalRecord[] = meta ? log.all().filter((r) => meta.methods.includes(r.method)) : [];
  const figures: Evaluation['figures'] = [];
  if (meta) {
    for (const f of reportFigures(records, meta)) {
      if (figures.length >= MAX_EVAL_FIGURES) warnings.push(`figure ${f.name} left out: at most ${MAX_EVAL_FIGURES} are shown`);
      else if (f.svg.length > MAX_EVAL_FIGURE_CHARS)
        warnings.push(`figure ${f.name} left out: larger than ${MAX_EVAL_FIGURE_CHARS} characters`);
      else if (!isInertSvg(f.svg)) warnings.push(`figure ${f.name} left out: not a plain SVG drawing`);
      else figures.push({ name: f.name, title: f.title.slice(0, 256) || f.name, svg: f.svg });
    }
  }
  const failedRecords = records.filter((r) => r.error !== undefined);
  const summary = summaryOf(dir, record);
  return {
    ...summary,
    // What is on disk now (a run interrupted between two writes of studio.json still counts right).
    done: meta ? records.filter(isDone).length : record.done,
    failed: meta ? failedRecords.length : record.failed,
    total: Math.max(record.total, meta ? records.length : 0),
    dataset: text(meta?.dataset ?? datasetLabel(record.spec.dataset), 4096),
    models: text(meta?.models ?? record.spec.modelSet ?? '?', 4096),
    profile: meta?.profile ?? 'paper',
    profileNote: text((meta ? PROFILE_NOTE[meta.profile] : '').replaceAll('**', '')),
    tables: meta ? reportTables(records, meta).map(wireTable) : [],
    figures,
    skippedMethods: (meta?.skippedMethods ?? [])
      .filter((s): s is { method: EvalSpec['methods'][number]; reason: string } => isMethodName(s.method))
      .slice(0, 4)
      .map((s) => ({ method: s.method, reason: text(s.reason) })),
    skippedMetrics: (meta?.skippedMetrics ?? [])
      .slice(0, 32)
      .map((s) => ({ metric: s.metric.slice(0, 64) || '?', reason: text(s.reason) })),
    failures: failedRecords.slice(0, 100).map((r) => ({ key: r.key.slice(0, 1024), error: text(r.error ?? '') })),
    warnings: warnings.slice(0, 64).map((w) => text(w)),
  };
}
