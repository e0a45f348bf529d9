import { describe, expect, it } from 'vitest';
import { CancelledError, EngineError } from '../../../../src/main/engine/errors.js';
import type { JobContext, JobKind, JobKindTable } from '../../../../src/main/host/jobs/job-kind.js';
import { JobQueue, KEEP_FINISHED_JOBS, QueueFullError } from '../../../../src/main/host/jobs/queue.js';
import { toErrorInfo } from '../../../../src/main/host/host-common.js';
import type { StudioEvent } from '../../../../src/shared/ipc/events.js';
import type { ModelInfo } from '../../../../src/shared/ipc/models.js';
import {
  DownloadModelRequestSchema,
  EditRequestSchema,
  GenerateRequestSchema,
  InvertRequestSchema,
  SegmentRequestSchema,
  ImportModelRequestSchema,
} from '../../../../src/shared/ipc/requests.js';
import { EvalRequestSchema } from '../../../../src/shared/ipc/eval.js';
import {
  BreedEvolutionRequestSchema,
  CreateEvolutionRequestSchema,
  ReinvertEvolutionRequestSchema,
} from '../../../../src/shared/ipc/evolution.js';
import { FuseRequestSchema } from '../../../../src/shared/ipc/fusion.js';
import { MAX_QUEUED_JOBS } from '../../../../src/shared/ipc/limits.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';

/** A PNG-sized stand-in preview (only its presence matters here). */
const PREVIEW = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Job kinds that wait for the test to release them, so the queue's order and state can be seen. */
function controllableKinds() {
  const gates: Array<() => void> = [];
  const started: string[] = [];
  const model = (id: string): ModelInfo => ({ id, name: id, kind: 'diffusion', source: 'hub', installed: true });
  const download: JobKind<'downloadModel', ModelInfo> = {
    type: 'downloadModel',
    schema: DownloadModelRequestSchema,
    async run(req, { signal, onProgress }) {
      started.push(req.id);
      onProgress({ phase: 'downloading', step: 1, total: 2, previewPng: PREVIEW });
      await new Promise<void>((resolve, reject) => {
        gates.push(resolve);
        signal.addEventListener('abort', () => reject(new CancelledError('stopped', model(`${req.id}-partial`))), { once: true });
      });
      if (req.id.startsWith('fail')) throw new EngineError('DOWNLOAD', `cannot download ${req.id}`);
      return model(req.id);
    },
    finish: async (_req, m, _ctx, partial) => ({ kind: 'downloadModel', model: partial ? { ...m, installed: false } : m }),
    keepsPartial: true,
  };
  const unused = (type: string) => async () => {
    throw new Error(`${type} is not used in this test`);
  };
  const kinds: JobKindTable = {
    downloadModel: download,
    generate: { type: 'generate', schema: GenerateRequestSchema, run: unused('generate'), finish: unused('generate') },
    invert: { type: 'invert', schema: InvertRequestSchema, run: unused('invert'), finish: unused('invert') },
    segment: { type: 'segment', schema: SegmentRequestSchema, run: unused('segment'), finish: unused('segment') },
    edit: { type: 'edit', schema: EditRequestSchema, run: unused('edit'), finish: unused('edit') },
    eval: { type: 'eval', schema: EvalRequestSchema, run: unused('eval'), finish: unused('eval') },
    fuse: { type: 'fuse', schema: FuseRequestSchema, run: unused('fuse'), finish: unused('fuse') },
    createEvolution: {
      type: 'createEvolution',
      schema: CreateEvolutionRequestSchema,
      run: unused('createEvolution'),
      finish: unused('createEvolution'),
    },
    breedEvolution: {
      type: 'breedEvolution',
      schema: BreedEvolutionRequestSchema,
      run: unused('breedEvolution'),
      finish: unused('breedEvolution'),
    },
    reinvertEvolution: {
      type: 'reinvertEvolution',
      schema: ReinvertEvolutionRequestSchema,
      run: unused('reinvertEvolution'),
      finish: unused('reinvertEvolution'),
    },
    importModel: { type: 'importModel', schema: ImportModelRequestSchema, run: unused('importModel'), finish: unused('importModel') },
  };
  const release = () => gates.shift()?.();
  return { kinds, started, release, waitingGates: () => gates.length };
}

function setup(maxQueued?: number) {
  const { kinds, started, release, waitingGates } = controllableKinds();
  const events: StudioEvent[] = [];
  const context = () => ({ settings: DEFAULT_SETTINGS }) as unknown as JobContext;
  const queue = new JobQueue({ kinds, context, emit: (e) => events.push(e), progressIntervalMs: 0, ...(maxQueued ? { maxQueued } : {}) });
  const until = async (f: () => boolean) => {
    for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(f()).toBe(true);
  };
  const of = (jobId: string) => events.filter((e) => 'jobId' in e && e.jobId === jobId).map((e) => e.type);
  return { queue, events, started, release, waitingGates, until, of };
}

describe('JobQueue', () => {
  it('runs one job at a time in order, through the kind table', async () => {
    const { queue, started, release, waitingGates, until, of } = setup();
    const a = queue.submit({ type: 'downloadModel', id: 'a' }).jobId;
    const b = queue.submit({ type: 'downloadModel', id: 'b' }).jobId;
    await until(() => waitingGates() === 1);
    expect(started).toEqual(['a']);
    expect(queue.jobs().map((j) => [j.jobId, j.state])).toEqual([
      [a, 'running'],
      [b, 'queued'],
    ]);
    release();
    await until(() => started.length === 2 && waitingGates() === 1);
    expect(of(a)).toEqual(['job.queued', 'job.started', 'job.progress', 'job.result']);
    release();
    await queue.idle();
    expect(of(b)).toEqual(['job.queued', 'job.started', 'job.progress', 'job.result']);
  });

  it(`refuses more than ${MAX_QUEUED_JOBS} waiting jobs with QUEUE_FULL, and accepts again once one has started`, async () => {
    const { queue, release, waitingGates, until } = setup();
    queue.submit({ type: 'downloadModel', id: 'running' });
    await until(() => waitingGates() === 1);
    for (let i = 0; i < MAX_QUEUED_JOBS; i++) queue.submit({ type: 'downloadModel', id: `w${i}` });
    let refused: unknown;
    try {
      queue.submit({ type: 'downloadModel', id: 'one-too-many' });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(toErrorInfo(refused)).toEqual({ code: 'QUEUE_FULL', message: expect.stringMatching(/32 jobs are already waiting/) });
    expect(queue.jobs()).toHaveLength(1 + MAX_QUEUED_JOBS);
    release();
    await until(() => waitingGates() === 1);
    expect(() => queue.submit({ type: 'downloadModel', id: 'now-there-is-room' })).not.toThrow();
    await queue.close();
  });

  it('finished jobs keep what the UI lists (state, label, last progress, error) but no preview or request', async () => {
    const { queue, release, waitingGates, until } = setup();
    const ok = queue.submit({ type: 'downloadModel', id: 'ok' }).jobId;
    await until(() => waitingGates() === 1);
    const running = queue.jobs()[0]!;
    expect(running.progress?.previewPng).toMatch(/^data:image\/png;base64,/);
    release();
    const failing = queue.submit({ type: 'downloadModel', id: 'fail-me' }).jobId;
    await until(() => waitingGates() === 1);
    release();
    await queue.idle();
    const [failed, done] = queue.jobs();
    expect(done).toMatchObject({
      jobId: ok,
      kind: 'downloadModel',
      state: 'done',
      label: 'download ok',
      progress: { phase: 'downloading', step: 1, total: 2 },
    });
    expect(Object.keys(done!).sort()).toEqual(['jobId', 'kind', 'label', 'progress', 'state']);
    expect(done!.progress?.previewPng).toBeUndefined();
    expect(failed).toMatchObject({ jobId: failing, state: 'failed', error: { code: 'DOWNLOAD', message: 'cannot download fail-me' } });
    expect(failed!.progress?.previewPng).toBeUndefined();
    expect(JSON.stringify(queue.jobs())).not.toMatch(/base64|"request"/);
  });

  it('cancels a waiting job at once and the running one through its signal, finishing the partial result its kind keeps', async () => {
    const { queue, events, waitingGates, until, of } = setup();
    const run = queue.submit({ type: 'downloadModel', id: 'long' }).jobId;
    const wait = queue.submit({ type: 'downloadModel', id: 'never' }).jobId;
    await until(() => waitingGates() === 1);
    expect(queue.cancel(wait)).toBe(true);
    expect(of(wait)).toEqual(['job.queued', 'job.cancelled']);
    expect(queue.cancel(run)).toBe(true);
    expect(queue.cancel(run)).toBe(false);
    await queue.idle();
    expect(events.at(-1)).toEqual({
      type: 'job.cancelled',
      jobId: run,
      partial: { kind: 'downloadModel', model: expect.objectContaining({ id: 'long-partial', installed: false }) },
    });
    expect(queue.cancel('job-unknown')).toBe(false);
    expect(() => queue.submit({ type: 'downloadModel', id: 'x' }, run)).toThrow(/already exists/);
  });

  it(`remembers the last ${KEEP_FINISHED_JOBS} finished jobs; a closed queue takes no more`, async () => {
    const { queue, release, waitingGates, until } = setup();
    for (let i = 0; i < KEEP_FINISHED_JOBS + 3; i++) {
      queue.submit({ type: 'downloadModel', id: `j${i}` });
      await until(() => waitingGates() === 1);
      release();
    }
    await queue.idle();
    expect(queue.jobs()).toHaveLength(KEEP_FINISHED_JOBS);
    await queue.close();
    expect(() => queue.submit({ type: 'downloadModel', id: 'late' })).toThrow(/shutting down/);
  });
});
