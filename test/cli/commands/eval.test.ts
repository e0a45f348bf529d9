import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { evalProgressLine } from '../../../src/cli/commands/eval.js';
import { testCacheDir } from '../../main/engine/models/demo/demo-cache.js';

let dir: string;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk).replace(/\n$/, ''));
    return true;
  });
  try {
    const code = await main(['eval', ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'eval-cli-'));
  mkdirSync(path.join(dir, 'data'));
  await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 40, b: 40 } } })
    .png()
    .toFile(path.join(dir, 'data', 'red.png'));
  writeFileSync(path.join(dir, 'data', 'prompts.csv'), 'image,prompt\nred.png,a red cat\nnope.png,a missing dog\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inversion-studio eval', () => {
  it('refuses bad usage with the usage text (exit 2)', async () => {
    expect((await cli([])).code).toBe(2);
    const m = await cli(['shapes:3', '--methods', 'editor,blip']);
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/--methods takes editor, ph2p, pez, caption \(got 'blip'\)/);
    expect((await cli(['shapes:3', '--ablate', 'lr=1'])).err).toMatch(/SETTING one of iterations/);
    expect((await cli(['shapes:x'])).err).toMatch(/shapes:N or shapes:N:SEED/);
    expect((await cli(['shapes:3', '--seeds', '0,-1'])).err).toMatch(/--seeds must be an integer/);
  });

  it('says clearly that shapes:N needs the shapes model set when it is not there', async () => {
    const cache = mkdtempSync(path.join(tmpdir(), 'eval-cli-cache-'));
    try {
      const r = await cli(['shapes:2', '--cache', cache, '-o', path.join(dir, 'run-shapes')]);
      // Either the set is there (a checkout with models/shapes/), or the message says what to do.
      if (r.code !== 0) {
        expect(r.code).toBe(1);
        expect(r.err).toMatch(
          /shapes:2 is evaluated on the shapes model set, which is not here yet: .*models\/shapes.*npm run train:shapes/,
        );
      }
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 300_000);

  it('evaluates a folder dataset on the demo set, reports the missing image (exit 1) and resumes', async () => {
    const runDir = path.join(dir, 'run');
    const args = [
      'data',
      '--methods',
      'ph2p,pez',
      '--models',
      'demo',
      '--cache',
      testCacheDir(),
      '--size',
      '64',
      '--iterations',
      '2',
      '--regen-steps',
      '1',
      '--threads',
      '1',
      '-o',
      runDir,
    ];
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await cli(args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/pez not run: PEZ needs a CLIP/);
      expect(r.err).toMatch(/failed: nope\.png · ph2p · seed 0: .*nope\.png: no such file/);
      expect(r.err).toMatch(/eval \[[#-]+\] 0\/2 {2}red\.png · ph2p · seed 0/);
      expect(r.out).toMatch(/\| method \| n \| word F1 ↑ \| s \/ image \|/);
      expect(r.out).toMatch(/\| ph2p \| 1 \|/);
      expect(r.out).toContain(`report: ${path.join(runDir, 'report.md')}`);
      for (const f of ['results.jsonl', 'results.csv', 'summary.csv', 'report.md', 'run.json'])
        expect(existsSync(path.join(runDir, f)), f).toBe(true);
      const before = readFileSync(path.join(runDir, 'results.jsonl'), 'utf8');
      // Again: red.png is done (not rerun), nope.png is retried and fails again.
      const again = await cli(args);
      expect(again.code).toBe(1);
      expect(again.err).not.toMatch(/red\.png · ph2p/);
      const after = readFileSync(path.join(runDir, 'results.jsonl'), 'utf8');
      expect(after.split('\n')[0]).toBe(before.split('\n')[0]);
    } finally {
      process.chdir(cwd);
    }
  }, 300_000);

  it('draws a progress line with the unit, the method phase and the ETA', () => {
    expect(
      evalProgressLine(
        {
          phase: 'inverting',
          done: 12,
          total: 48,
          resumed: 0,
          item: 'red.png',
          method: 'editor',
          seed: 0,
          etaSeconds: 3725,
          inner: { phase: 'refining', iteration: 30, total: 100 },
        },
        8,
      ),
    ).toBe('eval [##------] 12/48  red.png · editor · seed 0 · refining 30/100  ETA 1h02m');
  });
});
