import { describe, expect, it } from 'vitest';
import { ABLATION_SETTINGS } from '../../../src/main/engine/eval/ablation.js';
import { barChart, lineChart, scatterChart } from '../../../src/main/engine/eval/svg.js';
import { METHOD_NAMES } from '../../../src/main/engine/inversion/methods/types.js';
import { REQUEST_METHODS } from '../../../src/shared/api.js';
import {
  datasetLabel,
  EVAL_ABLATION_SETTINGS,
  EvalFigureSchema,
  EvalRequestSchema,
  EvalResultSchema,
  isInertSvg,
} from '../../../src/shared/ipc/eval.js';
import { JobProgressSchema } from '../../../src/shared/ipc/jobs.js';
import { INVERSION_METHODS } from '../../../src/shared/ipc/methods.js';
import { parseClientMessage, RequestSchema } from '../../../src/shared/ipc/index.js';

const req = (r: object) => ({ type: 'eval', dataset: { kind: 'shapes', n: 2 }, methods: ['editor'], ...r });

describe('eval IPC schemas', () => {
  it("names the engine's methods and ablation settings", () => {
    expect([...INVERSION_METHODS]).toEqual([...METHOD_NAMES]);
    expect([...EVAL_ABLATION_SETTINGS]).toEqual([...ABLATION_SETTINGS]);
    for (const t of ['eval', 'listEvaluations', 'getEvaluation', 'listMethods'] as const) expect(REQUEST_METHODS[t]).toBeDefined();
  });

  it('accepts a run request and rejects repeated methods or seeds, unknown methods and fields, bad sizes', () => {
    expect(
      EvalRequestSchema.safeParse(req({ seeds: [0, 34], limit: 5, ablation: { setting: 'iterations', values: ['10', '50'] } })).success,
    ).toBe(true);
    const bad = [
      req({ methods: ['editor', 'editor'] }),
      req({ methods: ['dalle'] }),
      req({ methods: [] }),
      req({ seeds: [1, 1] }),
      req({ dataset: { kind: 'shapes', n: 0 } }),
      req({ dataset: { kind: 'folder' } }),
      req({ ablation: { setting: 'temperature', values: ['1'] } }),
      req({ ablation: { setting: 'seed', values: ['1', '1'] } }),
      req({ iterations: 0 }),
      req({ size: 100 }),
      req({ runId: '../up' }),
      req({ extra: true }),
    ];
    for (const b of bad) expect(RequestSchema.safeParse(b).success, JSON.stringify(b)).toBe(false);
    const viaGate = parseClientMessage(JSON.stringify({ kind: 'request', id: 'r1', request: req({ methods: ['editor', 'editor'] }) }));
    expect(viaGate).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', requestId: 'r1' } });
  });

  it('labels datasets as the CLI takes them', () => {
    expect(datasetLabel({ kind: 'shapes', n: 100 })).toBe('shapes:100');
    expect(datasetLabel({ kind: 'shapes', n: 4, seed: 3 })).toBe('shapes:4:3');
    expect(datasetLabel({ kind: 'folder', path: '/data/coco' })).toBe('/data/coco');
  });

  it("passes the report's own figures as inert SVG and keeps anything that could act out", () => {
    const figures = [
      barChart({
        title: 'CLIP <by> "method" & more',
        labels: ['editor', 'pez'],
        values: [0.8, 0.6],
        errors: [0.05, NaN],
        yLabel: 'CLIP ↑',
      }),
      scatterChart({ title: 't', series: [{ name: 'editor', points: [[0.5, 0.7]] }], xLabel: 'x', yLabel: 'y' }),
      lineChart({ title: 'loss', series: [{ name: 'editor', xs: [0, 1, 2], ys: [1, 0.5, 0.25] }], xLabel: 'iteration', yLabel: 'loss' }),
    ];
    for (const svg of figures) {
      expect(isInertSvg(svg), svg.slice(0, 200)).toBe(true);
      expect(EvalFigureSchema.safeParse({ name: 'fig-x.svg', title: 'x', svg }).success).toBe(true);
    }
    const plain = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>';
    expect(isInertSvg(plain)).toBe(true);
    const hostile = [
      '<svg><script>alert(1)</script></svg>',
      '<svg><rect onload="alert(1)"/></svg>',
      '<svg><image href="https://example.com/x.png"/></svg>',
      '<svg><use xlink:href="file:///etc/passwd"/></svg>',
      '<svg><foreignObject><div>x</div></foreignObject></svg>',
      '<svg><rect style="fill:url(https://x/y)"/></svg>',
      '<!DOCTYPE svg [<!ENTITY x "y">]><svg></svg>',
      '<div><svg></svg></div>',
      'not svg',
    ];
    for (const svg of hostile) expect(isInertSvg(svg), svg).toBe(false);
    expect(EvalFigureSchema.safeParse({ name: 'fig-x.svg', title: 'x', svg: hostile[0] }).success).toBe(false);
    expect(EvalFigureSchema.safeParse({ name: '../x.svg', title: 'x', svg: plain }).success).toBe(false);
  });

  it('carries the unit at work in job progress and the report as data in the result', () => {
    const progress = {
      phase: 'evaluating',
      step: 3,
      total: 8,
      evaluation: { runId: 'eval-1', stage: 'inverting', done: 5, total: 10, resumed: 2, item: 'red.png', method: 'editor', seed: 0 },
    };
    expect(JobProgressSchema.safeParse(progress).success).toBe(true);
    expect(JobProgressSchema.safeParse({ ...progress, evaluation: { ...progress.evaluation, method: 'x' } }).success).toBe(false);
    const evaluation = {
      id: 'eval-1',
      dir: '/lib/evaluations/eval-1',
      spec: { dataset: { kind: 'shapes', n: 2 }, methods: ['editor'] },
      state: 'done',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:01:00.000Z',
      done: 2,
      total: 2,
      failed: 0,
      dataset: 'shapes:2',
      models: 'shapes',
      profile: 'shapes',
      profileNote: 'Shapes-world metrics',
      tables: [
        {
          id: 'results',
          title: 'Results',
          rowHeader: 'method',
          columns: [{ key: 'clip', label: 'CLIP ↑', better: 'higher', digits: 3, description: 'cosine' }],
          rows: [
            {
              label: 'editor',
              method: 'editor',
              n: 2,
              cells: [{ n: 2, mean: 0.8, ci95: null, infinite: 0, best: false }],
              secondsPerImage: 1.5,
            },
          ],
        },
      ],
      figures: [],
      skippedMethods: [],
      skippedMetrics: [],
      failures: [],
      warnings: [],
    };
    expect(EvalResultSchema.safeParse({ kind: 'eval', evaluation }).success).toBe(true);
    // JSON has no NaN: an undefined mean travels as null, never as a number that is not one.
    const withNaN = structuredClone(evaluation);
    withNaN.tables[0]!.rows[0]!.cells[0]!.mean = NaN;
    expect(EvalResultSchema.safeParse({ kind: 'eval', evaluation: withNaN }).success).toBe(false);
  });
});
