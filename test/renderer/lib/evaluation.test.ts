import { describe, expect, it } from 'vitest';
import { barChart } from '../../../src/main/engine/eval/svg.js';
import { formatCell, specFromForm, svgDataUrl, unitsText, type EvalForm } from '../../../src/renderer/lib/evaluation.js';
import type { MethodInfo } from '../../../src/shared/ipc/methods.js';

const all: MethodInfo[] = [
  { method: 'editor', available: true },
  { method: 'ph2p', available: true },
  { method: 'pez', available: false, reason: 'PEZ needs a CLIP' },
  { method: 'caption', available: false, reason: 'needs a captioner' },
];
const form = (f: Partial<EvalForm> = {}): EvalForm => ({
  datasetKind: 'shapes',
  shapesN: '4',
  folder: '',
  methods: new Set(['caption', 'editor', 'ph2p']),
  limit: '',
  iterations: '',
  seeds: '',
  preset: 'fast',
  regenSteps: '',
  ablationSetting: '',
  ablationValues: '',
  ...f,
});

describe('Evaluate page helpers', () => {
  it('writes cells as report.md does', () => {
    const col = { digits: 3 };
    expect(formatCell({ n: 3, mean: 0.7, ci95: 0.2484, infinite: 0, best: true }, col)).toBe('0.700 ± 0.248');
    expect(formatCell({ n: 1, mean: 0.9, ci95: null, infinite: 0, best: false }, col)).toBe('0.900');
    expect(formatCell({ n: 0, mean: null, ci95: null, infinite: 0, best: false }, col)).toBe('—');
    expect(formatCell({ n: 0, mean: null, ci95: null, infinite: 2, best: false }, { digits: 1 })).toBe('∞ (2)');
  });

  it('shows figures as image URLs, and only plain drawings', () => {
    const svg = barChart({ title: 'CLIP', labels: ['editor'], values: [0.8], yLabel: 'CLIP ↑' });
    const url = svgDataUrl(svg)!;
    expect(url.startsWith('data:image/svg+xml;charset=utf-8,%3Csvg')).toBe(true);
    expect(decodeURIComponent(url.slice(url.indexOf(',') + 1))).toBe(svg);
    expect(svgDataUrl('<svg><script>alert(1)</script></svg>')).toBeUndefined();
  });

  it('builds the request from the form: only methods that can run, in the engine order, defaults left out', () => {
    expect(specFromForm(form(), all)).toEqual({ spec: { dataset: { kind: 'shapes', n: 4 }, methods: ['editor', 'ph2p'] } });
    const full = specFromForm(
      form({
        datasetKind: 'folder',
        folder: ' /data/set ',
        modelSet: 'demo',
        limit: '2',
        iterations: '5',
        seeds: '0, 34 7',
        preset: 'paper',
        regenSteps: '3',
        ablationSetting: 'iterations',
        ablationValues: '10,50',
      }),
      all,
    );
    expect(full.spec).toEqual({
      dataset: { kind: 'folder', path: '/data/set' },
      methods: ['editor', 'ph2p'],
      modelSet: 'demo',
      limit: 2,
      iterations: 5,
      seeds: [0, 34, 7],
      preset: 'paper',
      regenSteps: 3,
      ablation: { setting: 'iterations', values: ['10', '50'] },
    });
  });

  it('says what is wrong with the form', () => {
    expect(specFromForm(form({ shapesN: '0' }), all).problem).toMatch(/number of shapes-world scenes/);
    expect(specFromForm(form({ datasetKind: 'folder' }), all).problem).toMatch(/dataset folder/);
    expect(specFromForm(form({ methods: new Set(['pez']) }), all).problem).toMatch(/at least one method/);
    expect(specFromForm(form({ seeds: '1, x' }), all).problem).toMatch(/Seeds/);
    expect(specFromForm(form({ seeds: '1 1' }), all).problem).toMatch(/twice/);
    expect(specFromForm(form({ iterations: '2.5' }), all).problem).toMatch(/Iterations/);
    expect(specFromForm(form({ ablationSetting: 'seed' }), all).problem).toMatch(/values of seed/);
  });

  it('counts units', () => {
    expect(unitsText(3, 12)).toBe('3 / 12 units');
    expect(unitsText(5, 12, 2)).toBe('5 / 12 units (2 from earlier runs)');
    expect(unitsText(0, 0)).toBe('– units');
  });
});
