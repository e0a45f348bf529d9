import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { main } from '../../../src/cli/main.js';
import { loadModelSet } from '../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../src/main/engine/diffusion/pipeline.js';
import { testCacheDir, testDemoModelSet } from '../../main/engine/models/demo/demo-cache.js';
import { writeGpt2Fixture } from '../../main/engine/hf/gpt2-fixture.js';
import type { InversionModels } from '../../../src/main/engine/inversion/inversion-models.js';
import type { InvertOptions, TargetImage, invert as invertFn } from '../../../src/main/engine/inversion/invert.js';
import { DEFAULT_LM_FLUENCY_WEIGHT } from '../../../src/main/engine/inversion/presets.js';
import { collectImages, progressLine, readRecords, type InvertRecord } from '../../../src/cli/commands/invert.js';

/** Lets a test wrap the real engine call (fault injection); passes through otherwise. */
const hooks = vi.hoisted(() => ({
  wrap: undefined as
    undefined | ((real: typeof invertFn, m: InversionModels, t: TargetImage, o: InvertOptions) => ReturnType<typeof invertFn>),
}));
vi.mock('../../../src/main/engine/inversion/invert.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../../src/main/engine/inversion/invert.js')>();
  return {
    ...mod,
    invert: (m: InversionModels, t: TargetImage, o: InvertOptions) => (hooks.wrap ? hooks.wrap(mod.invert, m, t, o) : mod.invert(m, t, o)),
  };
});

let dir: string;
let cache: string;
let catPng: string;
let foxPng: string;

/** Runs the CLI, capturing stdout (console.log) and stderr (console.error + direct writes). */
async function cli(args: string[], onStderr?: (text: string) => void): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const s = String(chunk);
    err.push(s.replace(/\n$/, ''));
    onStderr?.(s);
    return true;
  });
  try {
    const code = await main(['invert', ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
    hooks.wrap = undefined;
  }
}

/** Common options: the demo set at 128x128, a given start text (no captioner here). */
const base = () => ['--cache', cache, '--size', '128', '--init', 'a green cat on a sofa'];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'invert-cli-'));
  cache = testCacheDir();
  const ms = await loadModelSet('demo', { cacheDir: cache, skipVaeEncoder: true });
  try {
    const req = { seed: 0, steps: 5, scheduler: 'lms' as const, guidance: 7.5, width: 128, height: 128 };
    catPng = path.join(dir, 'cat.png');
    foxPng = path.join(dir, 'fox.png');
    writeFileSync(catPng, (await generate(ms, { ...req, prompt: 'a red cat on a blue sofa' })).png);
    writeFileSync(foxPng, (await generate(ms, { ...req, prompt: 'a fox in the snow' })).png);
  } finally {
    await ms.release();
  }
  mkdirSync(path.join(dir, 'folder'));
  writeFileSync(path.join(dir, 'folder', 'b-fox.png'), readFileSync(foxPng));
  writeFileSync(path.join(dir, 'folder', 'a-cat.png'), readFileSync(catPng));
  writeFileSync(path.join(dir, 'folder', 'notes.txt'), 'not an image');
  writeFileSync(
    path.join(dir, 'tiny.png'),
    await sharp({ create: { width: 40, height: 32, channels: 3, background: '#808080' } })
      .png()
      .toBuffer(),
  );
  writeFileSync(path.join(dir, 'corrupt.png'), Buffer.concat([readFileSync(catPng).subarray(0, 60), Buffer.from('garbage'.repeat(10))]));
  mkdirSync(path.join(dir, 'empty'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('helpers', () => {
  it('expands folders to their image files in name order', async () => {
    const files = await collectImages([path.join(dir, 'folder'), catPng]);
    expect(files.map((f) => path.relative(dir, f))).toEqual([
      path.join('folder', 'a-cat.png'),
      path.join('folder', 'b-fox.png'),
      'cat.png',
    ]);
    await expect(collectImages([path.join(dir, 'empty')])).rejects.toThrow(/contains no image files/);
  });

  it('draws a progress line with phase, iteration, loss and ETA', () => {
    const line = progressLine({ phase: 'refining', iteration: 30, total: 100, loss: 0.01234, bestLoss: 0.0119, etaSeconds: 65 }, 10);
    expect(line).toBe('refining   [###-------] 30/100  loss 0.0123 (best 0.0119)  ETA 1m05s');
    expect(progressLine({ phase: 'ranking', iteration: 1, total: 3, message: 'a cat' }, 3)).toMatch(/^ranking +\[#--\] 1\/3 {2}a cat$/);
  });
});

describe('inversion-studio invert', () => {
  it('inverts an image end to end and writes the JSON record', async () => {
    const json = path.join(dir, 'one.json');
    const r = await cli([catPng, ...base(), '--objective', 'latent', '--iterations', '4', '--json', json]);
    expect(r.code, r.err).toBe(0);
    const rec = JSON.parse(readFileSync(json, 'utf8')) as InvertRecord;
    // One image: an object, with the documented fields.
    expect(Array.isArray(rec)).toBe(false);
    expect(rec).toMatchObject({
      image: catPng,
      initialPrompt: 'a green cat on a sofa',
      iterations: 4,
      objective: 'latent',
      preset: 'fast',
      model: 'demo',
      init: 'text',
      rankedBy: 'pixel-mse',
      width: 128,
      height: 128,
    });
    expect(typeof rec.prompt).toBe('string');
    expect(rec.prompt.length).toBeGreaterThan(0);
    expect(r.out).toBe(rec.prompt);
    expect(typeof rec.seconds).toBe('number');
    expect(rec.loss).toHaveLength(4);
    expect(rec.loss.every(Number.isFinite)).toBe(true);
    expect(rec.loss[3]!).toBeLessThan(rec.loss[0]!);
    expect(rec.candidates.length).toBeGreaterThan(0);
    for (const c of rec.candidates) expect(typeof c.prompt === 'string' && Number.isFinite(c.score)).toBe(true);
    const scores = rec.candidates.map((c) => c.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(rec.prompt).toBe(rec.candidates[0]!.prompt);
    expect(rec.candidates.map((c) => c.prompt)).toContain('a green cat on a sofa');
    expect(rec.stopped).toBeUndefined();
    // Progress on stderr, and the pixel-MSE fallback said once.
    expect(r.err).toMatch(/refining +\[#+-*\] 4\/4 +loss/);
    expect(r.err.match(/ranking candidates by pixel MSE/g)).toHaveLength(1);
    expect(r.err).toMatch(/models download clip-vit-l14/);
  });

  it('processes a folder in order, resumes from the JSON, and skips finished images', async () => {
    const json = path.join(dir, 'folder.json');
    const catInFolder = path.join(dir, 'folder', 'a-cat.png');
    const done: InvertRecord = {
      image: catInFolder,
      initialPrompt: 'x',
      prompt: 'a finished prompt',
      candidates: [{ prompt: 'a finished prompt', score: 1, iteration: 0, loss: 0, e2tDistance: 0 }],
      loss: [1],
      iterations: 1,
      seconds: 1,
      objective: 'denoise',
      preset: 'fast',
      model: 'demo',
      init: 'text',
      rankedBy: 'pixel-mse',
      width: 128,
      height: 128,
      seed: 0,
    };
    writeFileSync(json, JSON.stringify(done));
    const r = await cli([path.join(dir, 'folder'), ...base(), '--objective', 'denoise', '--iterations', '3', '--json', json]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/skipping 1 image\(s\) already in/);
    const recs = await readRecords(json);
    expect(recs.map((x) => path.basename(x.image))).toEqual(['a-cat.png', 'b-fox.png']);
    expect(recs[0]).toEqual(done);
    expect(recs[1]).toMatchObject({ objective: 'denoise', iterations: 3 });
    // Several images: "FILE<TAB>PROMPT" per processed image.
    expect(r.out).toBe(`${path.relative(process.cwd(), path.join(dir, 'folder', 'b-fox.png'))}\t${recs[1]!.prompt}`);

    // Everything finished: nothing is loaded or run, the stored prompts are printed.
    hooks.wrap = () => {
      throw new Error('invert must not run');
    };
    const again = await cli([path.join(dir, 'folder'), ...base(), '--json', json]);
    expect(again.code, again.err).toBe(0);
    expect(again.out.split('\n').map((l) => l.split('\t')[1])).toEqual(['a finished prompt', recs[1]!.prompt]);
    expect(readFileSync(json, 'utf8')).toBe(JSON.stringify(recs, null, 2) + '\n');
  });

  it('Ctrl-C stops the run, keeps the best result so far and exits 130', async () => {
    const json = path.join(dir, 'cancel.json');
    let sent = false;
    const r = await cli([catPng, foxPng, ...base(), '--objective', 'denoise', '--iterations', '200', '--json', json], (s) => {
      if (!sent && /refining +\[.*\] (2\d)\/200/.test(s)) {
        sent = true;
        process.emit('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/cancelled after \d+ of 200 iterations; kept the best result so far/);
    const recs = await readRecords(json);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ image: catPng, stopped: 'cancelled' });
    expect(recs[0]!.iterations).toBeGreaterThan(0);
    expect(recs[0]!.iterations).toBeLessThan(200);
    expect(recs[0]!.candidates.length).toBeGreaterThan(0);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('reports unreadable, missing and too-small images, and goes on with the others', async () => {
    const json = path.join(dir, 'bad.json');
    const r = await cli([
      path.join(dir, 'corrupt.png'),
      path.join(dir, 'missing.png'),
      path.join(dir, 'tiny.png'),
      ...base(),
      '--json',
      json,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/corrupt\.png could not be decoded/);
    expect(r.err).toMatch(/cannot read .*missing\.png: no such file/);
    expect(r.err).toMatch(/tiny\.png is 40x32 pixels; inversion needs at least 64x64/);
    expect(r.err).toMatch(/3 of 3 image\(s\) failed/);
    expect(r.out).toBe('');
    expect(existsSync(json)).toBe(false);
  });

  it('without --init and without a captioner, starts from random words with a warning; a named captioner must be installed', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'invert-nocap-'));
    try {
      // A named captioner that is absent: how to install it, or to pass --init, before anything is loaded.
      const v = await cli([catPng, '--cache', empty, '--size', '128', '--captioner', 'vit-gpt2']);
      expect(v.code).toBe(1);
      expect(v.err).toMatch(/vit-gpt2 captioner \(Xenova\/vit-gpt2-image-captioning\) is not installed/);
      expect(v.err).toMatch(/models download vit-gpt2/);
      expect(v.err).toMatch(/--init "TEXT"/);
      expect(existsSync(path.join(empty, 'models', 'demo'))).toBe(false);

      // None named and none installed: random words, as the studio does.
      const json = path.join(dir, 'random.json');
      let started: string | undefined;
      hooks.wrap = (real, m, t, o) => {
        started = o.init.kind;
        return real(m, t, o);
      };
      const demoDir = await testDemoModelSet();
      const args = ['--cache', empty, '--models', demoDir, '--size', '128', '--objective', 'denoise', '--iterations', '2'];
      const r = await cli([catPng, ...args, '--json', json]);
      expect(r.code, r.err).toBe(0);
      expect(started).toBe('random');
      expect(r.err).toMatch(
        /warning: No captioner is installed \(onnx-community\/Florence-2-base-ft\), so the inversion started from random words/,
      );
      expect(r.err).toMatch(/models download florence2-base-ft/);
      const rec = JSON.parse(readFileSync(json, 'utf8')) as InvertRecord;
      expect(rec.init).toBe('random');
      expect(rec.initialPrompt.split(' ')).toHaveLength(8);
      expect(r.out).toBe(rec.prompt);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('--lm decodes with GPT-2 when it is installed, and says how to install it and goes on when not', async () => {
    // A cache with no GPT-2 (then with the GPT-2 fixture); the demo set is given as a folder.
    const lmCache = mkdtempSync(path.join(tmpdir(), 'invert-lm-'));
    try {
      const demoDir = await testDemoModelSet();
      const args = [
        catPng,
        '--cache',
        lmCache,
        '--models',
        demoDir,
        '--size',
        '128',
        '--init',
        'a green cat on a sofa',
        '--objective',
        'denoise',
        '--iterations',
        '2',
      ];
      let lmSeen: string | undefined = 'not called';
      const spy = (real: typeof invertFn, m: InversionModels, t: TargetImage, o: InvertOptions) => {
        lmSeen = o.lm?.name;
        return real(m, t, o);
      };
      hooks.wrap = spy;
      const missing = await cli([...args, '--lm']);
      expect(missing.code).toBe(0);
      expect(missing.err).toMatch(/inversion-studio models download gpt2/);
      expect(missing.err).toMatch(/without the language model/);
      expect(lmSeen).toBeUndefined();

      await writeGpt2Fixture(lmCache);
      const json = path.join(dir, 'lm.json');
      hooks.wrap = spy;
      const r = await cli([...args, '--fluency', '0.02', '--json', json]);
      expect(r.code).toBe(0);
      expect(lmSeen).toBe('Xenova/gpt2');
      const rec = JSON.parse(readFileSync(json, 'utf8')) as InvertRecord;
      expect(rec.lm).toBe('Xenova/gpt2');
      expect(rec.fluencyWeight).toBe(0.02);
      // Without --fluency the CLI leaves the weight to the engine and records what it applied.
      let settingsWeight: number | undefined = -1;
      hooks.wrap = (real, m, t, o) => {
        settingsWeight = o.settings.fluencyWeight;
        return real(m, t, o);
      };
      const dflt = path.join(dir, 'lm-default.json');
      expect((await cli([...args, '--lm', '--json', dflt])).code).toBe(0);
      expect(settingsWeight).toBeUndefined();
      expect(JSON.parse(readFileSync(dflt, 'utf8'))).toMatchObject({ lm: 'Xenova/gpt2', fluencyWeight: DEFAULT_LM_FLUENCY_WEIGHT });
      expect((await cli([catPng, '--init', 'x', '--fluency', 'abc'])).err).toMatch(/--fluency must be a number/);
    } finally {
      rmSync(lmCache, { recursive: true, force: true });
    }
  });

  it('a NaN loss at the start fails the image with a clear message', async () => {
    hooks.wrap = (real, m, t, o) =>
      real(
        {
          ...m,
          encodePrompt: async (text) => {
            const e = await m.encodePrompt(text);
            if (text) e.embedding.fill(NaN, m.dim, 2 * m.dim);
            return e;
          },
        },
        t,
        o,
      );
    const r = await cli([catPng, ...base(), '--objective', 'denoise', '--iterations', '3']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the denoise loss is not finite at the first iteration, so there is nothing to refine/);
    expect(r.out).toBe('');
  });

  it('a NaN loss mid-run keeps the best result so far and says so', async () => {
    const json = path.join(dir, 'nan.json');
    let latent: Float32Array | undefined;
    hooks.wrap = (real, m, t, o) =>
      real({ ...m, encodeLatent: async (img) => (latent = await m.encodeLatent!(img)) }, t, {
        ...o,
        onProgress: (e) => {
          o.onProgress?.(e);
          if (e.phase === 'refining' && e.iteration === 2) latent!.fill(NaN);
        },
      });
    // The denoise objective reads the target latent on every iteration: poison it after two.
    const r = await cli([catPng, ...base(), '--objective', 'denoise', '--iterations', '6', '--json', json]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: .*cat\.png: the denoise loss became NaN at iteration 2; kept the best embedding so far/);
    const [rec] = await readRecords(json);
    expect(rec).toMatchObject({ stopped: 'non-finite', iterations: 2 });
    expect(rec!.candidates.length).toBeGreaterThan(0);
    expect(r.out).toBe(rec!.prompt);
  });

  it('rejects bad options with usage errors', async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli([catPng, '--objective', 'clip'])).err).toMatch(/--objective must be one of pixel, latent, denoise/);
    expect((await cli([catPng, '--preset', 'slow'])).code).toBe(2);
    expect((await cli([catPng, '--iterations', '0'])).err).toMatch(/--iterations must be an integer from 1/);
    expect((await cli([catPng, '--captioner', 'blip'])).err).toMatch(/--captioner must be one of florence2, vit-gpt2, janus/);
    expect((await cli([catPng, '--init', '  '])).err).toMatch(/--init must not be empty/);
    expect((await cli([path.join(dir, 'empty'), '--init', 'x'])).err).toMatch(/contains no image files/);
    const bad = path.join(dir, 'not-results.json');
    writeFileSync(bad, '{"hello": 1}');
    expect((await cli([catPng, '--init', 'x', '--json', bad])).err).toMatch(/does not hold inversion results/);
    const size = await cli([catPng, ...base(), '--size', '100']);
    expect(size.code).toBe(2);
    expect(size.err).toMatch(/--size 100 is not a multiple of 32, which model set demo needs; try 96/);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--json OUT\.json/);
  });
});
