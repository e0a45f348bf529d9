/** What the Evaluate page computes without React: the form's request, cell texts, figure URLs. */
import { isInertSvg, type EvalAblation, type EvalCell, type EvalColumn, type EvalDataset, type EvalSpec } from '../../shared/ipc/eval.js';
import type { InversionMethod, MethodInfo } from '../../shared/ipc/methods.js';

/** A table cell as report.md writes it: `0.812 ± 0.031`, the mean alone for one value, `—` for none. */
export function formatCell(c: EvalCell, column: Pick<EvalColumn, 'digits'>): string {
  if (c.n === 0 || c.mean === null) return c.infinite > 0 ? `∞ (${c.infinite})` : '—';
  const m = c.mean.toFixed(column.digits);
  return c.ci95 !== null ? `${m} ± ${c.ci95.toFixed(column.digits)}` : m;
}

/**
 * A figure as an image URL. SVG shown through <img> is drawn as a picture: it runs no script and
 * loads nothing, whatever it holds; figures that are not plain drawings are not shown at all.
 */
export function svgDataUrl(svg: string): string | undefined {
  if (!isInertSvg(svg)) return undefined;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

export interface EvalForm {
  datasetKind: 'shapes' | 'folder';
  /** Scenes of the shapes world (text of the number field). */
  shapesN: string;
  folder: string;
  methods: ReadonlySet<InversionMethod>;
  modelSet?: string;
  limit: string;
  iterations: string;
  /** Comma- or space-separated seeds. */
  seeds: string;
  preset: 'fast' | 'paper';
  regenSteps: string;
  ablationSetting: '' | EvalAblation['setting'];
  ablationValues: string;
}

const positiveInt = (s: string): number | undefined => {
  const t = s.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 ? n : undefined;
};

/** The `eval` request's options for the form, or what is wrong with it. */
export function specFromForm(f: EvalForm, available: readonly MethodInfo[]): { spec?: EvalSpec; problem?: string } {
  let dataset: EvalDataset;
  if (f.datasetKind === 'shapes') {
    const n = positiveInt(f.shapesN);
    if (n === undefined) return { problem: 'Give the number of shapes-world scenes (1 or more).' };
    dataset = { kind: 'shapes', n };
  } else {
    if (!f.folder.trim()) return { problem: "Give the dataset folder (on the engine's machine)." };
    dataset = { kind: 'folder', path: f.folder.trim() };
  }
  const can = new Set(available.filter((m) => m.available).map((m) => m.method));
  const methods = [...f.methods].filter((m) => can.has(m));
  if (methods.length === 0) return { problem: 'Choose at least one method that can run with this model set.' };
  const seedsText = f.seeds.trim();
  const seeds = seedsText ? seedsText.split(/[\s,]+/).map((s) => (/^\d+$/.test(s) ? Number(s) : NaN)) : [];
  if (seeds.some((s) => !Number.isSafeInteger(s) || s > 0xffff_ffff)) return { problem: 'Seeds are whole numbers, separated by commas.' };
  if (new Set(seeds).size !== seeds.length) return { problem: 'A seed is listed twice.' };
  for (const [name, text] of [
    ['Limit', f.limit],
    ['Iterations', f.iterations],
    ['Regeneration steps', f.regenSteps],
  ] as const)
    if (text.trim() && positiveInt(text) === undefined) return { problem: `${name} is a whole number of 1 or more (or empty).` };
  const limit = positiveInt(f.limit);
  const iterations = positiveInt(f.iterations);
  const regenSteps = positiveInt(f.regenSteps);
  let ablation: EvalAblation | undefined;
  if (f.ablationSetting) {
    const values = f.ablationValues
      .split(/[\s,]+/)
      .map((v) => v.trim())
      .filter(Boolean);
    if (values.length === 0) return { problem: `Give the values of ${f.ablationSetting} to compare (e.g. 10, 50, 100).` };
    if (new Set(values).size !== values.length) return { problem: 'An ablation value is listed twice.' };
    ablation = { setting: f.ablationSetting, values };
  }
  // Methods in the engine's order, so the same choice gives the same run options.
  const order: InversionMethod[] = ['editor', 'ph2p', 'pez', 'caption'];
  return {
    spec: {
      dataset,
      methods: order.filter((m) => methods.includes(m)),
      ...(f.modelSet ? { modelSet: f.modelSet } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(iterations !== undefined ? { iterations } : {}),
      ...(seeds.length ? { seeds } : {}),
      ...(f.preset !== 'fast' ? { preset: f.preset } : {}),
      ...(regenSteps !== undefined ? { regenSteps } : {}),
      ...(ablation ? { ablation } : {}),
    },
  };
}

/** "12 / 48 units (8 from earlier runs)". */
export function unitsText(done: number, total: number, resumed = 0): string {
  if (total === 0) return done > 0 ? `${done} units` : '– units';
  return `${done} / ${total} units${resumed > 0 ? ` (${resumed} from earlier runs)` : ''}`;
}
