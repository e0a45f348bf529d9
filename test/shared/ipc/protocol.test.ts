import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  MAX_MESSAGE_CHARS,
  REQUEST_TYPES,
  RequestSchema,
  ResponseSchemas,
  SettingsSchema,
  StudioEventSchema,
  mergeSettings,
  parseClientMessage,
  parseServerMessage,
} from '../../../src/shared/ipc/index.js';

const msg = (request: unknown, id = 'r1') => ({ kind: 'request', id, request });

describe('IPC contract', () => {
  it('accepts every well-formed request type and has a response schema for each', () => {
    const samples: unknown[] = [
      { type: 'generate', prompt: 'a red fox', seed: 1, steps: 5, scheduler: 'lms', guidance: 7.5, width: 512, height: 512 },
      { type: 'invert', image: { source: 'data', dataUrl: 'data:image/png;base64,iVBORw0KGgo=', name: 'x.png' }, preset: 'fast' },
      { type: 'invert', image: { source: 'library', id: 'abc-1' } },
      { type: 'cancel', jobId: 'job-1' },
      { type: 'listJobs' },
      { type: 'listLibrary', kind: 'inversion', offset: 0, limit: 10 },
      { type: 'getLibraryItem', id: 'x1' },
      { type: 'deleteLibraryItem', id: 'x1' },
      { type: 'listModels' },
      { type: 'downloadModel', id: 'sd15' },
      { type: 'importModel', path: '/models/sd' },
      { type: 'getSettings' },
      { type: 'setSettings', patch: { provider: 'cpu', defaults: { generate: { steps: 4 } } } },
      { type: 'tokenize', text: 'a cat' },
      { type: 'getStatus' },
      { type: 'segment', image: { source: 'library', id: 'abc-1', file: 'abc-1-c0.png' }, prompt: 'a fox', words: ['fox'] },
      { type: 'generate', prompt: 'a fox', attentionMaps: true },
      { type: 'exportSegmentation', id: 'seg-1', dir: '/tmp/masks', threshold: 0.5 },
      { type: 'listNotices' },
      { type: 'dismissNotice', id: 'n-1' },
      {
        type: 'edit',
        source: { source: 'library', id: 'abc-1', file: 'abc-1-c0.png' },
        prompt: 'a fox',
        mode: 'auto',
        blend: { threshold: 0.4 },
      },
      { type: 'eval', dataset: { kind: 'shapes', n: 4 }, methods: ['editor', 'caption'], iterations: 10 },
      { type: 'eval', dataset: { kind: 'folder', path: '/data/set' }, methods: ['pez'], runId: 'eval-1', seeds: [0, 34] },
      { type: 'listEvaluations' },
      { type: 'getEvaluation', id: 'eval-1' },
      { type: 'listMethods', modelSet: 'demo' },
      { type: 'invert', image: { source: 'library', id: 'abc-1' }, method: 'pez' },
      {
        type: 'fuse',
        parents: [
          { kind: 'library', id: 'abc-1' },
          { kind: 'prompt', text: 'a fox' },
        ],
        mode: 'blend',
        weights: [0.3, 0.7],
      },
      {
        type: 'createEvolution',
        init: [
          { kind: 'prompt', text: 'a fox' },
          { kind: 'library', id: 'abc-1' },
        ],
        population: 4,
      },
      { type: 'breedEvolution', session: 'evo-1', picks: ['g0-00'] },
      { type: 'reinvertEvolution', session: 'evo-1', id: 'g1-02' },
      { type: 'openEvolution', session: 'evo-1' },
      { type: 'lockEvolution', session: 'evo-1', id: 'g0-00', words: ['fox'] },
      { type: 'branchEvolution', session: 'evo-1', from: 'g0-01' },
      { type: 'exportEvolution', session: 'evo-1', dir: '/tmp/out' },
      { type: 'listEvolutions' },
    ];
    const seen = new Set<string>();
    for (const s of samples) {
      const r = parseClientMessage(JSON.stringify(msg(s)));
      expect(r.ok, JSON.stringify(r)).toBe(true);
      seen.add((s as { type: string }).type);
    }
    expect([...seen].sort()).toEqual([...REQUEST_TYPES].sort());
    expect(Object.keys(ResponseSchemas).sort()).toEqual([...REQUEST_TYPES].sort());
  });

  it('rejects unknown request types with UNKNOWN_REQUEST and keeps the request id', () => {
    const r = parseClientMessage(msg({ type: 'formatDisk' }, 'abc'));
    expect(r).toMatchObject({ ok: false, error: { type: 'error', code: 'UNKNOWN_REQUEST', requestId: 'abc' } });
  });

  it('rejects malformed messages: not JSON, wrong envelope, extra fields, bad values', () => {
    const cases: unknown[] = [
      '{not json',
      'null',
      42,
      { kind: 'request', request: { type: 'listJobs' } },
      { kind: 'nope', id: 'a', request: { type: 'listJobs' } },
      msg({ type: 'listJobs', extra: 1 }),
      msg({ type: 'generate', prompt: 'x', width: 513 }),
      msg({ type: 'generate', prompt: 'x', seed: -1 }),
      msg({ type: 'generate', prompt: 'x', scheduler: 'pndm' }),
      msg({ type: 'cancel', jobId: '../../etc' }),
      msg({ type: 'invert', image: { source: 'data', dataUrl: 'data:text/html;base64,PGgxPg==' } }),
      msg({ type: 'invert', image: { source: 'file', path: '/etc/passwd' } }),
      { kind: 'request', id: 'x'.repeat(65), request: { type: 'listJobs' } },
    ];
    for (const c of cases) {
      const r = parseClientMessage(typeof c === 'string' ? c : JSON.stringify(c));
      expect(r.ok, JSON.stringify(c).slice(0, 80)).toBe(false);
      if (!r.ok) expect(['INVALID_MESSAGE', 'UNKNOWN_REQUEST']).toContain(r.error.code);
    }
  });

  it('rejects oversized strings and messages with MESSAGE_TOO_LARGE', () => {
    expect(parseClientMessage(msg({ type: 'generate', prompt: 'x'.repeat(4001) }))).toMatchObject({
      ok: false,
      error: { code: 'MESSAGE_TOO_LARGE' },
    });
    expect(parseClientMessage('x'.repeat(1001), 1000)).toMatchObject({ ok: false, error: { code: 'MESSAGE_TOO_LARGE' } });
    expect(parseClientMessage({ kind: 'request', id: 'a', request: { type: 'tokenize', text: 'x'.repeat(2000) } }, 1000)).toMatchObject({
      ok: false,
      error: { code: 'MESSAGE_TOO_LARGE' },
    });
    // An image just over 50 MB: the message fits the envelope limit, the field limit catches it.
    const big = `data:image/png;base64,${'A'.repeat(Math.ceil((50 * 1024 * 1024 + 100_000) / 3) * 4)}`;
    expect(big.length).toBeLessThan(MAX_MESSAGE_CHARS);
    const r = parseClientMessage({ kind: 'request', id: 'a', request: { type: 'invert', image: { source: 'data', dataUrl: big } } });
    expect(r).toMatchObject({ ok: false, error: { code: 'MESSAGE_TOO_LARGE', requestId: 'a' } });
  });

  it('settings: defaults fill everything, patches merge nested defaults, invalid values throw', () => {
    expect(SettingsSchema.parse({})).toEqual(DEFAULT_SETTINGS);
    const s = mergeSettings(DEFAULT_SETTINGS, { provider: 'cpu', defaults: { generate: { steps: 7 } } });
    expect(s.provider).toBe('cpu');
    expect(s.defaults.generate.steps).toBe(7);
    expect(s.defaults.generate.guidance).toBe(DEFAULT_SETTINGS.defaults.generate.guidance);
    expect(() => mergeSettings(DEFAULT_SETTINGS, { defaults: { generate: { width: 100 } } })).toThrow();
    expect(RequestSchema.safeParse({ type: 'setSettings', patch: { provider: 'tpu' } }).success).toBe(false);
  });

  it('validates host messages on the client side too', () => {
    expect(
      parseServerMessage(JSON.stringify({ kind: 'event', event: { type: 'engine.status', state: 'ready', restarts: 0 } })),
    ).toBeDefined();
    expect(parseServerMessage({ kind: 'event', event: { type: 'engine.status', state: 'exploded', restarts: 0 } })).toBeUndefined();
    expect(parseServerMessage({ kind: 'response', id: 'a', ok: false, error: { code: 'X', message: 'y' } })).toBeDefined();
    expect(
      StudioEventSchema.safeParse({
        type: 'job.progress',
        jobId: 'j',
        progress: { phase: 'refining', step: 1, total: 2, previewPng: 'data:image/jpeg;base64,AA==' },
      }).success,
    ).toBe(false);
  });
});
