import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/main/engine/training/checkpoint.js';
import { buildTrainingGraph } from '../../../../src/main/engine/training/train-graph.js';
import { TrainStep } from '../../../../src/main/engine/training/train-step.js';
import { train, type TrainOptions } from '../../../../src/main/engine/training/trainer.js';
import { tinyBatches, tinyClassifier, TINY_SHAPES } from './tiny-models.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'training-test-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const { model, params } = tinyClassifier();
  const graph = buildTrainingGraph(model, { params: params.names, shapes: TINY_SHAPES, loss: 'loss', monitor: ['logits'] });
  graph.params.assign(params);
  // one thread: the comparison below is exact, and a single-threaded kernel sums in a fixed order
  const step = await TrainStep.create(graph, { threads: 1 });
  return { graph, step };
}

const base = (s: Awaited<ReturnType<typeof setup>>): Omit<TrainOptions, 'steps'> => ({
  name: 'tiny',
  step: s.step,
  params: s.graph.params,
  schedule: { lr: 0.02, warmup: 2 },
  clipNorm: 5,
  emaDecay: 0.9,
  seed: 11,
  batches: tinyBatches,
  fingerprint: 'tiny-v1',
});

describe('the training step on a tiny model', () => {
  it('differentiates every parameter and its loss falls', async () => {
    const s = await setup();
    expect(Object.keys(s.graph.grads).sort()).toEqual(s.graph.params.names.sort());
    const r = await train({ ...base(s), steps: 40 });
    const first = r.log[0]!.loss;
    const last = r.log.slice(-5).reduce((a, l) => a + l.loss, 0) / 5;
    expect(first).toBeGreaterThan(0.8); // ~ln 3 at the start
    expect(last).toBeLessThan(first * 0.3);
    expect(r.finished).toBe(true);
    expect(r.ema).toBeDefined();
    await s.step.release();
  });

  it('resumes from a checkpoint with exactly the next step of an uninterrupted run', async () => {
    const dir = await tmp();
    const a = await setup();
    const straight = await train({ ...base(a), steps: 8 });
    const b = await setup();
    const file = path.join(dir, 'tiny.ckpt');
    const part = await train({ ...base(b), steps: 8, checkpoint: { file }, stopAfter: 5 });
    expect(part.finished).toBe(false);
    expect(part.step).toBe(5);
    // a fresh process: new session, new parameter values (they are overwritten from the checkpoint)
    const c = await setup();
    const resumed = await train({ ...base(c), steps: 8, checkpoint: { file } });
    expect(resumed.resumedFrom).toBe(5);
    expect(resumed.log.map((l) => l.loss)).toEqual(straight.log.map((l) => l.loss));
    for (const p of straight.params.list) expect(resumed.params.get(p.name).values).toEqual(p.values);
    for (const p of straight.ema!.list) expect(resumed.ema!.get(p.name).values).toEqual(p.values);
    for (const s of [a, b, c]) await s.step.release();
  });

  it('refuses a checkpoint of another configuration', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'tiny.ckpt');
    const s = await setup();
    await train({ ...base(s), steps: 4, checkpoint: { file }, stopAfter: 2 });
    await expect(train({ ...base(s), steps: 4, checkpoint: { file }, fingerprint: 'other' })).rejects.toThrow(/another configuration/);
    await s.step.release();
  });

  it('stops at an abort with a checkpoint to continue from', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'tiny.ckpt');
    const s = await setup();
    const ac = new AbortController();
    const run = train({ ...base(s), steps: 50, checkpoint: { file }, signal: ac.signal, onStep: (step) => step === 2 && ac.abort() });
    await expect(run).rejects.toThrow(/cancelled at step 3/);
    expect((await loadCheckpoint<{ step: number }>(file)).meta.step).toBe(3);
    await s.step.release();
  });
});

describe('checkpoint files', () => {
  it('round-trip tensors and metadata, and reject a truncated file', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'x.ckpt');
    const tensors = new Map([
      ['a', Float32Array.of(1, 2, 3)],
      ['b', new Float32Array(1000).map((_, i) => i / 7)],
    ]);
    await saveCheckpoint(file, { meta: { step: 12, note: 'ü' }, tensors });
    const back = await loadCheckpoint<{ step: number; note: string }>(file);
    expect(back.meta).toEqual({ step: 12, note: 'ü' });
    expect(back.tensors.get('a')).toEqual(tensors.get('a'));
    expect(back.tensors.get('b')).toEqual(tensors.get('b'));
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 100));
    await expect(loadCheckpoint(file)).rejects.toThrow(/truncated/);
  });
});
