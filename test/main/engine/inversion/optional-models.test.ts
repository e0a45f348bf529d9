import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeClipVisionFixture } from '../hf/clip-vision-fixture.js';
import { writeFlorence2Fixture } from '../hf/florence2-fixture.js';
import { writeGpt2Fixture } from '../hf/gpt2-fixture.js';
import { writeVitGpt2Fixture } from '../hf/vit-gpt2-fixture.js';
import type { HelperFormats } from '../../../../src/main/engine/inversion/model-set-helpers.js';
import {
  findInstalledModels,
  NO_CAPTIONER_WARNING,
  OptionalModelCache,
  planOptionalModels,
  resolveOptionalModels,
  type InstalledModels,
} from '../../../../src/main/engine/inversion/optional-models.js';

const cache = mkdtempSync(path.join(os.tmpdir(), 'opt-models-'));
const keep = new OptionalModelCache();
afterAll(async () => {
  await keep.dispose();
  rmSync(cache, { recursive: true, force: true });
});

const nothing: InstalledModels = { captioners: [], clip: false, lm: false, own: {}, ownProblems: [] };

describe('planOptionalModels (what is installed -> what an inversion uses)', () => {
  it('prefers Florence-2, then ViT-GPT2; without either the start is random words, with a warning', () => {
    const p = (captioners: InstalledModels['captioners']) =>
      planOptionalModels({ cacheDir: '/c', installed: { ...nothing, captioners } }).captioner;
    expect(p(['vit-gpt2', 'florence2'])).toEqual({ from: 'cache', name: 'florence2' });
    expect(p(['vit-gpt2'])).toEqual({ from: 'cache', name: 'vit-gpt2' });
    expect(p(['janus'])).toBeUndefined();
    const none = planOptionalModels({ cacheDir: '/c', installed: nothing });
    expect(none.captioner).toBeUndefined();
    expect(none.warnings).toEqual([NO_CAPTIONER_WARNING]);
    expect(NO_CAPTIONER_WARNING).toMatch(/random words/);
    expect(NO_CAPTIONER_WARNING).toMatch(/models download florence2-base-ft/);
    // A start text given: no captioner, nothing to say.
    expect(planOptionalModels({ cacheDir: '/c', installed: nothing, choices: { captioner: 'off' } }).warnings).toEqual([]);
  });

  it('a named captioner must be installed (NOT_INSTALLED saying how), and is then used even when another would be preferred', () => {
    expect(() => planOptionalModels({ cacheDir: '/c', installed: nothing, choices: { captioner: 'florence2' } })).toThrow(
      /florence2 captioner \(onnx-community\/Florence-2-base-ft\) is not installed in \/c.*models download florence2-base-ft.*--init "TEXT"/,
    );
    const installed = { ...nothing, captioners: ['florence2', 'janus'] as InstalledModels['captioners'] };
    expect(planOptionalModels({ cacheDir: '/c', installed, choices: { captioner: 'janus' } }).captioner).toEqual({
      from: 'cache',
      name: 'janus',
    });
  });

  it('CLIP and the language model: auto when installed (a note when not), require (a warning when not), own, off', () => {
    const all = { ...nothing, clip: true, lm: true };
    const auto = planOptionalModels({ cacheDir: '/c', installed: all, choices: { captioner: 'off' } });
    expect(auto.clip).toEqual({ from: 'cache', name: 'Xenova/clip-vit-large-patch14' });
    expect(auto.lm).toEqual({ from: 'cache', name: 'Xenova/gpt2' });
    expect(auto.notes).toEqual([]);

    const absent = planOptionalModels({ cacheDir: '/c', installed: nothing, choices: { captioner: 'off' } });
    expect(absent.clip ?? absent.lm).toBeUndefined();
    expect(absent.warnings).toEqual([]);
    expect(absent.notes).toEqual([
      expect.stringMatching(/CLIP ViT-L\/14 is not installed: ranking candidates by pixel MSE .*models download clip-vit-l14/),
      expect.stringMatching(/GPT-2 is not installed.*models download gpt2/),
    ]);

    const required = planOptionalModels({ cacheDir: '/c', installed: nothing, choices: { captioner: 'off', lm: 'require', clip: 'off' } });
    expect(required.notes).toEqual([]);
    expect(required.warnings).toEqual([
      expect.stringMatching(/Xenova\/gpt2\) is not installed in \/c.*models download gpt2.*without the language model/),
    ]);

    const off = planOptionalModels({ cacheDir: '/c', installed: all, choices: { captioner: 'off', clip: 'off', lm: 'own' } });
    expect(off.clip ?? off.lm).toBeUndefined();
    expect(off.notes).toEqual([]);
  });
});

describe("a model set's own helpers", () => {
  const set = mkdtempSync(path.join(os.tmpdir(), 'opt-models-set-'));
  afterAll(() => rmSync(set, { recursive: true, force: true }));
  const helper = (role: string, body: string) => {
    mkdirSync(path.join(set, role), { recursive: true });
    writeFileSync(path.join(set, role, 'config.json'), body);
  };
  const loads: string[] = [];
  const formats: HelperFormats = {
    captioner: {
      'test-captioner': async (dir) => {
        loads.push(`captioner:${dir}`);
        return { name: 'own-captioner', caption: async () => 'a red square' };
      },
    },
    clip: {
      'test-clip': async (dir) => {
        loads.push(`clip:${dir}`);
        return { name: 'clip', score: async () => 1, release: async () => undefined };
      },
    },
    lm: {},
  };

  it('are found in the set folder and preferred over the cache for that set; unknown formats are passed over with a warning', async () => {
    helper('captioner', '{"model": "test-captioner", "input": {}}');
    helper('clip', '{"model": "test-clip"}');
    helper('lm', '{"model": "some-future-format"}');
    const found = findInstalledModels(cache, set);
    expect(found.own).toEqual({
      captioner: { dir: path.join(set, 'captioner'), format: 'test-captioner' },
      clip: { dir: path.join(set, 'clip'), format: 'test-clip' },
      lm: { dir: path.join(set, 'lm'), format: 'some-future-format' },
    });
    const installed = { ...found, captioners: ['florence2'] as InstalledModels['captioners'], clip: true, lm: false };
    const plan = planOptionalModels({ cacheDir: cache, modelSetDir: set, installed }, formats);
    expect(plan.captioner).toEqual({ from: 'set', dir: path.join(set, 'captioner'), format: 'test-captioner' });
    expect(plan.clip).toEqual({ from: 'set', dir: path.join(set, 'clip'), format: 'test-clip' });
    expect(plan.lm).toBeUndefined();
    expect(plan.warnings).toEqual([expect.stringMatching(/lm in format 'some-future-format', which this build cannot load/)]);

    // Loaded once while kept; a named captioner still comes from the cache.
    const own = new OptionalModelCache();
    try {
      const request = { cacheDir: cache, modelSetDir: set, installed, choices: { lm: 'off' as const } };
      const a = await resolveOptionalModels(request, own, formats);
      const b = await resolveOptionalModels(request, own, formats);
      expect(a.captioner?.name).toBe('own-captioner');
      expect(await a.captioner!.caption({ data: new Uint8Array(3), width: 1, height: 1 })).toBe('a red square');
      expect(b.scorer).toBe(a.scorer);
      expect(a.sources).toEqual({ captioner: plan.captioner, clip: plan.clip });
      expect(loads).toEqual([`captioner:${path.join(set, 'captioner')}`, `clip:${path.join(set, 'clip')}`]);
      expect(planOptionalModels({ ...request, choices: { captioner: 'florence2' } }, formats).captioner).toEqual({
        from: 'cache',
        name: 'florence2',
      });
    } finally {
      await own.dispose();
    }
  });

  it('a config.json that cannot be read, or names no format, is passed over with a warning', () => {
    helper('captioner', '{ not json');
    const found = findInstalledModels(cache, set);
    expect(found.own.captioner).toBeUndefined();
    expect(found.ownProblems).toEqual([expect.stringMatching(/captioner.config\.json is not readable JSON/)]);
    expect(planOptionalModels({ cacheDir: cache, installed: { ...found, captioners: ['vit-gpt2'] } }, formats).warnings).toContain(
      found.ownProblems[0],
    );
    helper('captioner', '{"model_type": "vision-encoder-decoder"}');
    expect(findInstalledModels(cache, set).ownProblems).toEqual([
      expect.stringMatching(/names no "model" \(the format of the captioner\)/),
    ]);
  });
});

describe('resolveOptionalModels on the cache (transformers.js fixtures)', () => {
  it('uses what is installed, in either cache layout, and loads CLIP and GPT-2 once', async () => {
    expect(await resolveOptionalModels({ cacheDir: cache, choices: { captioner: 'off' } }, keep)).toMatchObject({
      warnings: [],
      sources: {},
    });

    // What `models download` writes (manifest layout) and copied hub folders both count.
    await writeVitGpt2Fixture(cache, { layout: 'manifest' });
    await writeClipVisionFixture(cache);
    await writeGpt2Fixture(cache, { layout: 'manifest' });
    const a = await resolveOptionalModels({ cacheDir: cache }, keep);
    expect(a.captioner?.name).toBe('vit-gpt2');
    expect(a.scorer?.name).toBe('clip');
    expect(a.lm?.name).toBe('Xenova/gpt2');
    expect(a.warnings).toEqual([]);
    const img = { data: new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i)), width: 64, height: 64 };
    expect(await a.scorer!.score(img, img)).toBeCloseTo(1, 5);
    expect((await a.lm!.nextWords('a red', 3)).length).toBeGreaterThan(0);

    // Florence-2 is preferred once present; the loaded CLIP and GPT-2 are reused, and so is the captioner.
    await writeFlorence2Fixture(cache);
    const b = await resolveOptionalModels({ cacheDir: cache }, keep);
    expect(b.captioner?.name).toBe('florence2');
    expect(b.scorer).toBe(a.scorer);
    expect(b.lm).toBe(a.lm);
    expect((await resolveOptionalModels({ cacheDir: cache }, keep)).captioner).toBe(b.captioner);
    const red = new Uint8Array(64 * 64 * 3).map((_, i) => (i % 3 === 0 ? 230 : 20));
    expect(await b.captioner!.caption({ data: red, width: 64, height: 64 })).toMatch(/red/);
  }, 120_000);

  it('leaves out an installed helper that cannot be loaded, with a warning, instead of failing', async () => {
    const broken = mkdtempSync(path.join(os.tmpdir(), 'opt-models-broken-'));
    try {
      const { dir } = await writeClipVisionFixture(broken);
      rmSync(path.join(dir, 'onnx'), { recursive: true, force: true });
      const r = await resolveOptionalModels({ cacheDir: broken, choices: { captioner: 'off' } });
      expect(r.scorer).toBeUndefined();
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toMatch(/incomplete|not installed/);
      expect(r.warnings[0]).toMatch(/ranked by pixel MSE/);
      await r.release();
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
