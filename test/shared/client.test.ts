import { describe, expect, it } from 'vitest';
import { REQUEST_METHODS, requestFor, STUDIO_API_KEYS } from '../../src/shared/api.js';
import { createStudioApi } from '../../src/shared/client.js';
import type { ClientMessage } from '../../src/shared/ipc/protocol.js';
import { REQUEST_TYPES, RequestSchema } from '../../src/shared/ipc/requests.js';

function fakeTransport() {
  const posted: ClientMessage[] = [];
  let handler: (m: unknown) => void = () => undefined;
  return {
    posted,
    reply: (m: unknown) => handler(m),
    transport: {
      kind: 'web' as const,
      post: (m: ClientMessage) => void posted.push(m),
      subscribe: (h: (m: unknown) => void) => {
        handler = h;
        return () => undefined;
      },
      imageUrl: (f: string) => `/library/${f}`,
    },
  };
}

describe('StudioApi from one table', () => {
  it('has one method per request type, and the preload exposes exactly the StudioApi members', () => {
    expect(Object.keys(REQUEST_METHODS).sort()).toEqual([...REQUEST_TYPES].sort());
    const { transport } = fakeTransport();
    const api = createStudioApi(transport);
    const exposed = new Set<string>(STUDIO_API_KEYS);
    expect(
      Object.keys(api)
        .filter((k) => !exposed.has(k))
        .sort(),
    ).toEqual(['emitLocal', 'failPending']);
    for (const k of STUDIO_API_KEYS) expect(api[k], k).toBeDefined();
  });

  it('maps each method call onto its request (positional fields, params objects, optional trailing arguments)', () => {
    expect(requestFor('cancel', ['job-1'])).toEqual({ type: 'cancel', jobId: 'job-1' });
    expect(requestFor('tokenize', ['a red fox'])).toEqual({ type: 'tokenize', text: 'a red fox' });
    expect(requestFor('tokenize', ['a red fox', 'sd15'])).toEqual({ type: 'tokenize', text: 'a red fox', modelSet: 'sd15' });
    expect(requestFor('listLibrary', [])).toEqual({ type: 'listLibrary' });
    expect(requestFor('listLibrary', [{ limit: 5 }])).toEqual({ type: 'listLibrary', limit: 5 });
    expect(requestFor('generate', [{ prompt: 'a fox', steps: 3 }])).toEqual({ type: 'generate', prompt: 'a fox', steps: 3 });
    expect(requestFor('setSettings', [{ offline: true }])).toEqual({ type: 'setSettings', patch: { offline: true } });
    expect(requestFor('getStatus', [])).toEqual({ type: 'getStatus' });
  });

  it('sends valid requests and resolves with the validated response', async () => {
    const { transport, posted, reply } = fakeTransport();
    const api = createStudioApi(transport);
    const calls = [
      api.generate({ prompt: 'a fox' }),
      api.invert({ image: { source: 'library', id: 'item-1' } }),
      api.segment({ image: { source: 'library', id: 'item-1', file: 'item-1-target.png' }, threshold: 0.3 }),
      api.edit({ source: { source: 'library', id: 'item-1' }, prompt: 'a red fox', mode: 'blend', crossSteps: 0.6 }),
      api.cancel('job-1'),
      api.listJobs(),
      api.listLibrary(),
      api.getLibraryItem('item-1'),
      api.deleteLibraryItem('item-1'),
      api.listModels(),
      api.downloadModel('sd15'),
      api.importModel('/models/sd'),
      api.getSettings(),
      api.setSettings({ offline: true }),
      api.tokenize('a fox'),
      api.getStatus(),
      api.exportSegmentation({ id: 'seg-1', dir: '/tmp/masks' }),
      api.listNotices(),
      api.dismissNotice('n-1'),
      api.eval({ dataset: { kind: 'shapes', n: 2 }, methods: ['editor', 'caption'], iterations: 5 }),
      api.listEvaluations(),
      api.getEvaluation('eval-1'),
      api.listMethods('demo'),
      api.fuse({
        parents: [
          { kind: 'library', id: 'item-1' },
          { kind: 'prompt', text: 'a fox' },
        ],
        mode: 'concat',
      }),
      api.createEvolution({ init: [{ kind: 'prompt', text: 'a fox' }] }),
      api.breedEvolution('evo-1', ['g0-00']),
      api.reinvertEvolution('evo-1', 'g0-00'),
      api.openEvolution('evo-1'),
      api.lockEvolution('evo-1', 'g0-00', ['fox']),
      api.branchEvolution('evo-1', 'g0-00'),
      api.exportEvolution('evo-1'),
      api.listEvolutions(),
    ];
    for (const c of calls) c.catch(() => undefined);
    expect(posted.map((m) => m.request.type)).toEqual(Object.keys(REQUEST_METHODS));
    for (const m of posted) expect(RequestSchema.safeParse(m.request).success, m.request.type).toBe(true);
    const cancel = Object.keys(REQUEST_METHODS).indexOf('cancel');
    reply({ kind: 'response', id: posted[cancel]!.id, ok: true, result: { cancelled: true } });
    await expect(calls[cancel]).resolves.toEqual({ cancelled: true });
    reply({ kind: 'response', id: posted[0]!.id, ok: false, error: { code: 'QUEUE_FULL', message: 'full' } });
    await expect(calls[0]).rejects.toThrow('[QUEUE_FULL] full');
  });
});
