import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import type { InvertResult } from '../../../../src/shared/ipc/jobs.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';
import { createFakeEngine, FAKE_INVERSION_SIZE } from '../fake-engine.js';

describe('the invert job stores its target', () => {
  it('scaled down to the inversion size when the upload is larger (never up), as PNG, upright', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'svc-inv-'));
    const out = new Collector();
    const service = new EngineService({
      engine: createFakeEngine({ stepMs: 1 }),
      settings: DEFAULT_SETTINGS,
      libraryDir: dir,
      send: out.send,
      progressIntervalMs: 0,
    });
    const invert = async (width: number, height: number) => {
      const jpeg = await sharp({ create: { width, height, channels: 3, background: '#a05030' } })
        .jpeg()
        .toBuffer();
      await service.handle({
        kind: 'request',
        id: `r${width}`,
        request: { type: 'invert', image: { source: 'data', dataUrl: `data:image/jpeg;base64,${jpeg.toString('base64')}` }, iterations: 1 },
      });
      const r = await out.waitResponse(`r${width}`);
      const jobId = (r as { result: { jobId: string } }).result.jobId;
      const done = await out.waitEvent('job.result', (e) => e.jobId === jobId);
      const file = (done.result as InvertResult).item;
      const meta = await sharp(readFileSync(path.join(dir, file.kind === 'inversion' ? file.inversion.targetFile : ''))).metadata();
      return [meta.format, meta.width, meta.height];
    };
    expect(await invert(300, 200)).toEqual(['png', (FAKE_INVERSION_SIZE * 3) / 2, FAKE_INVERSION_SIZE]);
    expect(await invert(40, 48)).toEqual(['png', 40, 48]);
    await service.dispose();
  });
});
