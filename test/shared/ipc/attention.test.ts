import { describe, expect, it } from 'vitest';
import { encodeAttentionPayload } from '../../../src/main/engine/attention/payload.js';
import {
  AttentionMapPayloadSchema,
  AttentionMapsSchema,
  base64Length,
  MAX_ATTENTION_GRID_SIDE,
} from '../../../src/shared/ipc/attention.js';
import { JobResultSchema } from '../../../src/shared/ipc/jobs.js';
import { RequestSchema } from '../../../src/shared/ipc/requests.js';
import { StudioEventSchema } from '../../../src/shared/ipc/events.js';
import { fakeSegmentation } from '../../main/host/fake-engine.js';

const grid = (w: number, h: number) => Buffer.alloc(w * h, 7).toString('base64');
const payload = (over: Record<string, unknown> = {}) => ({
  width: 4,
  height: 2,
  imageWidth: 64,
  imageHeight: 32,
  threshold: 0.4,
  words: [{ word: 'cat', tokens: ['cat'], area: 0.25, grid: grid(4, 2) }],
  ...over,
});

describe('attention maps on the wire', () => {
  it("accept the engine's payload as it encodes it", () => {
    const p = encodeAttentionPayload(fakeSegmentation('a red ball on green grass', 200, 100));
    expect(AttentionMapPayloadSchema.parse(p)).toEqual(p);
    expect(AttentionMapsSchema.parse({ ...p, id: 'seg-1', prompt: 'a red ball on green grass', source: 'noising' }).words).toHaveLength(4);
    expect(base64Length(64 * 64)).toBe(5464);
  });

  it('refuse a grid whose length does not match width x height, too many words, a side over 1024, non-base64', () => {
    expect(AttentionMapPayloadSchema.safeParse(payload()).success).toBe(true);
    const short = AttentionMapPayloadSchema.safeParse(payload({ words: [{ word: 'cat', tokens: [], area: 0, grid: grid(4, 1) }] }));
    expect(short.success).toBe(false);
    expect(short.error?.issues[0]).toMatchObject({ path: ['words', 0, 'grid'], message: expect.stringMatching(/4x2 grid needs 12/) });
    const words = Array.from({ length: 76 }, (_, i) => ({ word: `w${i}`, tokens: [], area: 0, grid: grid(4, 2) }));
    expect(AttentionMapPayloadSchema.safeParse(payload({ words })).success).toBe(false);
    expect(AttentionMapPayloadSchema.safeParse(payload({ words: words.slice(0, 75) })).success).toBe(true);
    expect(AttentionMapPayloadSchema.safeParse(payload({ width: MAX_ATTENTION_GRID_SIDE + 1, words: [] })).success).toBe(false);
    expect(
      AttentionMapPayloadSchema.safeParse(payload({ words: [{ word: 'cat', tokens: [], area: 0, grid: '!!!!!!!!!!!!' }] })).success,
    ).toBe(false);
    expect(AttentionMapPayloadSchema.safeParse(payload({ words: [{ word: 'cat', tokens: [], area: 2, grid: grid(4, 2) }] })).success).toBe(
      false,
    );
  });

  it('travel in generate and segment results; the new requests and events parse', () => {
    const maps = { ...payload(), id: 'seg-1', prompt: 'a cat', source: 'generation' };
    const item = {
      kind: 'generation',
      id: 'g1',
      createdAt: 'now',
      file: 'g1.png',
      width: 64,
      height: 32,
      params: {
        prompt: 'a cat',
        negativePrompt: '',
        seed: 1,
        steps: 1,
        scheduler: 'ddim',
        guidance: 1,
        width: 64,
        height: 64,
        model: 'demo',
      },
    };
    expect(JobResultSchema.safeParse({ kind: 'generate', item, seconds: 1, warnings: [], attention: maps }).success).toBe(true);
    expect(JobResultSchema.safeParse({ kind: 'segment', maps, source: 'generation', seconds: 1, warnings: [] }).success).toBe(true);
    const ok = (r: unknown) => RequestSchema.safeParse(r).success;
    expect(ok({ type: 'segment', image: { source: 'library', id: 'i1', file: 'i1-target.png' }, threshold: 0.3, words: ['cat'] })).toBe(
      true,
    );
    expect(ok({ type: 'segment', image: { source: 'library', id: 'i1', file: '../etc/passwd' } })).toBe(false);
    expect(ok({ type: 'segment', image: { source: 'library', id: 'i1' }, words: [] })).toBe(false);
    expect(ok({ type: 'segment', image: { source: 'library', id: 'i1' }, threshold: 1.5 })).toBe(false);
    expect(ok({ type: 'generate', prompt: 'a cat', attentionMaps: true })).toBe(true);
    expect(ok({ type: 'exportSegmentation', id: 'seg-1', dir: '/tmp/x', threshold: 0.5 })).toBe(true);
    expect(ok({ type: 'dismissNotice', id: 'n-1' })).toBe(true);
    expect(ok({ type: 'listNotices' })).toBe(true);
    const notice = {
      type: 'notice',
      id: 'n-1',
      source: 'settings',
      level: 'warning',
      message: 'moved',
      movedTo: '/d/config.json.corrupt-1',
      at: 'now',
    };
    expect(StudioEventSchema.safeParse(notice).success).toBe(true);
    expect(StudioEventSchema.safeParse({ ...notice, level: 'info' }).success).toBe(false);
    expect(StudioEventSchema.safeParse({ type: 'notice.dismissed', id: 'n-1' }).success).toBe(true);
  });
});
