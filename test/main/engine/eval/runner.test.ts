/**
 * The harness on the demo set at 64x64 (regenerations with one sampler step): resume of a
 * half-finished run, bad dataset rows, a method whose model is missing, and one run of the real
 * methods (PH2P, EDITOR with a fake captioner, the caption baseline) end to end.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEval, type EvalProgress } from '../../../../src/main/engine/eval/runner.js';
import type { MethodContext, MethodName, MethodOptions, MethodResult } from '../../../../src/main/engine/inversion/methods/index.js';
import type { TargetImage } from '../../../../src/main/engine/inversion/invert.js';
import { testCacheDir, testDemoModelSet } from '../models/demo/demo-cache.js';
import { writeFakeShapesSet } from './fake-shapes-set.js';

let root: string;
let data: string;
const captioner = { name: 'fake-captioner', caption: async () => 'a red cat on a sofa' };

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'eval-runner-'));
  data = path.join(root, 'data');
  mkdirSync(data, { recursive: true });
  for (const [name, r, g, b] of [
    ['red.png', 200, 30, 30],
    ['green.png', 30, 200, 30],
    ['blue.png', 30, 30, 200],
  ] as const)
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r, g, b } } })
      .png()
      .toFile(path.join(data, name));
  writeFileSync(path.join(data, 'broken.png'), 'not an image');
  writeFileSync(
    path.join(data, 'prompts.jsonl'),
    [
      { image: 'red.png', prompt: 'a red cat' },
      { image: 'missing.png', prompt: 'a lost dog' },
      { image: 'green.png', prompt: 'a green field' },
      { image: 'broken.png', prompt: 'a broken vase' },
      { image: 'blue.png', prompt: 'a blue sea' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fake(calls: string[], abortAt?: { n: number; ac: AbortController }) {
  return async (method: MethodName, _ctx: MethodContext, _t: TargetImage, o: MethodOptions = {}): Promise<MethodResult> => {
    calls.push(`${method}:${o.seed}`);
    const cancel = abortAt && calls.length === abortAt.n;
    if (cancel) abortAt.ac.abort();
    return {
      method,
      initialPrompt: 'a cat',
      prompt: method === 'editor' ? 'a red cat' : 'cat red zq',
      candidates: [],
      loss: [1, 0.5, 0.25],
      iterations: 3,
      seconds: 0.01,
      objective: 'latent',
      rankedBy: 'none',
      width: 64,
      height: 64,
      ...(cancel ? { stopped: 'cancelled' as const } : {}),
    };
  };
}

const base = (runDir: string) => ({
  dataset: { kind: 'folder' as const, dir: data },
  models: 'demo',
  cacheDir: testCacheDir(),
  runDir,
  size: 64,
  regenSteps: 1,
  threads: 1,
});

describe('runEval', () => {
  it('resumes a half-finished run: only the units not done are run again', async () => {
    const runDir = path.join(root, 'resume');
    const calls: string[] = [];
    const ac = new AbortController();
    const events: EvalProgress[] = [];
    const first = await runEval(
      { ...base(runDir), methods: ['editor', 'ph2p'], seeds: [0, 1], hooks: { invert: fake(calls, { n: 3, ac }), context: { captioner } } },
      { signal: ac.signal, onProgress: (e) => events.push(e) },
    );
    expect(first.cancelled).toBe(true);
    // red.png: editor s0, editor s1 done; ph2p s0 cancelled by the abort.
    expect(calls).toEqual(['editor:0', 'editor:1', 'ph2p:0']);
    const log = readFileSync(path.join(runDir, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; stopped?: string });
    expect(log.map((r) => [r.key, r.stopped])).toEqual([
      ['red.png|editor|seed=0', undefined],
      ['red.png|editor|seed=1', undefined],
      ['red.png|ph2p|seed=0', 'cancelled'],
    ]);
    expect(existsSync(path.join(runDir, 'report.md'))).toBe(true);
    expect(events.some((e) => e.phase === 'inverting' && e.total === 20)).toBe(true);

    const again: string[] = [];
    const second = await runEval({
      ...base(runDir),
      methods: ['editor', 'ph2p'],
      seeds: [0, 1],
      hooks: { invert: fake(again), context: { captioner } },
    });
    expect(second.cancelled).toBe(false);
    // 5 rows x 2 methods x 2 seeds = 20 units; 2 were done; the 2 bad rows fail at loading (no call).
    expect(again).toHaveLength(20 - 2 - 8);
    expect(again[0]).toBe('ph2p:0');
    const done = second.records.filter((r) => r.metrics);
    expect(done).toHaveLength(12);
    expect(second.failed).toHaveLength(8);
    // wordF1 of 'a red cat' against 'a red cat' is 1.
    expect(done.find((r) => r.key === 'red.png|editor|seed=0')!.metrics!.wordF1).toBe(1);
    expect(existsSync(path.join(runDir, done[0]!.regeneration!))).toBe(true);
    // A third run has nothing left but the failed rows (retried, failing again).
    const third: string[] = [];
    await runEval({ ...base(runDir), methods: ['editor', 'ph2p'], seeds: [0, 1], hooks: { invert: fake(third), context: { captioner } } });
    expect(third).toEqual([]);
  }, 300_000);

  it('reports missing and unreadable images and keeps going; a method without its model is skipped with the reason', async () => {
    const runDir = path.join(root, 'bad');
    const calls: string[] = [];
    const r = await runEval({ ...base(runDir), methods: ['pez', 'caption'], hooks: { invert: fake(calls) } });
    // The demo set has no CLIP with a text tower and no captioner.
    expect(r.skippedMethods.map((s) => s.method)).toEqual(['pez', 'caption']);
    expect(r.skippedMethods[0]!.reason).toMatch(/CLIP.*clip-vit-l14/);
    expect(calls).toEqual([]);

    const r2 = await runEval({ ...base(runDir), methods: ['pez', 'editor'], hooks: { invert: fake(calls), context: { captioner } } });
    expect(r2.skippedMethods.map((s) => s.method)).toEqual(['pez']);
    expect(calls).toHaveLength(3);
    expect(r2.failed.map((f) => f.item)).toEqual(['missing.png', 'broken.png']);
    expect(r2.failed[0]!.error).toMatch(/missing\.png: no such file/);
    expect(r2.failed[1]!.error).toMatch(/broken\.png.*(not an image|could not be decoded)/);
    const md = readFileSync(path.join(runDir, 'report.md'), 'utf8');
    expect(md).toMatch(/Failed units \(2; a rerun retries them\)/);
    expect(md).toMatch(/- pez: PEZ needs a CLIP/);
    expect(md).toMatch(/- clip: CLIP ViT-L\/14 is not installed/);
    expect(md).toMatch(/\| editor \| 3 \|/);
  }, 300_000);

  it('runs the real methods end to end (PH2P, EDITOR from a caption, the caption baseline)', async () => {
    const runDir = path.join(root, 'real');
    const r = await runEval({
      ...base(runDir),
      limit: 1,
      methods: ['editor', 'ph2p', 'caption'],
      iterations: 2,
      editor: { snapshotEvery: 1, e2tRounds: 1, rankSteps: 1, steps: 1, rankAlternatives: 0 },
      hooks: { context: { captioner } },
    });
    expect(r.failed).toEqual([]);
    const by = Object.fromEntries(r.records.map((x) => [x.method, x]));
    expect(by.caption!.prompt).toBe('a red cat on a sofa');
    expect(by.editor!.initialPrompt).toBe('a red cat on a sofa');
    expect(by.editor!.loss).toHaveLength(2);
    expect(by.ph2p!.prompt!.length).toBeGreaterThan(0);
    expect(by.ph2p!.iterations).toBe(2);
    for (const x of r.records) expect(x.metrics!.wordF1).toBeGreaterThanOrEqual(0);
    const files = r.report.written!.map((f) => path.basename(f));
    expect(files).toEqual(expect.arrayContaining(['report.md', 'results.csv', 'summary.csv', 'fig-wordF1.svg', 'fig-loss.svg']));
  }, 300_000);

  it('evaluates shapes:N on a shapes-format set with the world instruments (CLIP, checker, PSNR, world LM)', async () => {
    const set = await writeFakeShapesSet(path.join(root, 'shapes-set'), await testDemoModelSet());
    const runDir = path.join(root, 'shapes-run');
    const r = await runEval({
      dataset: { kind: 'shapes', n: 2, seed: 0 },
      models: set,
      cacheDir: testCacheDir(),
      runDir,
      regenSteps: 1,
      threads: 1,
      methods: ['editor', 'ph2p', 'pez', 'caption'],
      iterations: 2,
      editor: { snapshotEvery: 1, e2tRounds: 1, rankSteps: 1, steps: 1, rankAlternatives: 0 },
    });
    expect(r.skippedMethods).toEqual([]);
    expect(r.failed).toEqual([]);
    expect(r.records).toHaveLength(8);
    for (const x of r.records) {
      expect(Object.keys(x.metrics!).sort()).toEqual(
        expect.arrayContaining(['checkerImage', 'checkerText', 'clip', 'ppl', 'psnr', 'wordF1']),
      );
      expect(x.metrics!.ppl).toBeGreaterThan(1);
    }
    // The caption is the world captioner's (an untrained one: still a sentence of the grammar).
    const caption = r.records.find((x) => x.method === 'caption')!;
    expect(caption.prompt).toMatch(/ on a (gray|white|black|brown) background$/);
    expect(r.records.find((x) => x.method === 'pez')!.prompt!.length).toBeGreaterThan(0);
    const md = readFileSync(path.join(runDir, 'report.md'), 'utf8');
    expect(md).toMatch(/\*\*Shapes-world metrics\*\*/);
    expect(md).toContain('| method | n | CLIP ↑ | checker(image) ↑ | checker(text) ↑ | PSNR ↑ | PPL ↓ | word F1 ↑ | s / image |');
    expect(md).not.toMatch(/cannot load/);
  }, 300_000);
});
