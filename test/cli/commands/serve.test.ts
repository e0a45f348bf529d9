import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { run } from '../../../src/cli/commands/serve.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('inversion-studio serve', () => {
  it('prints a tokenised 127.0.0.1 URL, serves the page with it only, and stops cleanly on SIGTERM', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'serve-'));
    const web = path.join(tmp, 'web');
    mkdirSync(web);
    writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>Inversion Studio</title>');
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/inversion-studio.js'),
        'serve',
        '--port',
        '0',
        '--web',
        web,
        '--data',
        path.join(tmp, 'data'),
        '--library',
        path.join(tmp, 'lib'),
      ],
      {
        env: {
          ...process.env,
          INVERSION_STUDIO_ENGINE_WORKER: path.join(ROOT, 'test/main/host/fake-engine-worker.ts'),
          INVERSION_STUDIO_TOKEN: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 90_000);
      child.stdout.on('data', () => {
        const m = /running at (\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const u = new URL(url);
    expect(u.hostname).toBe('127.0.0.1');
    expect(u.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Inversion Studio</title>');
    expect((await fetch(`${u.origin}/`)).status).toBe(401);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });

  it("tells about a damaged config.json (moved aside) and refuses another program's library folder, touching neither", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'serve-'));
    const data = path.join(tmp, 'data');
    const lib = path.join(tmp, 'lib');
    mkdirSync(data);
    mkdirSync(lib);
    writeFileSync(path.join(data, 'config.json'), '{"provider": "cpu", "libraryDir": "/somewhere", "mod');
    const foreign = '{"app": "other", "files": []}';
    writeFileSync(path.join(lib, 'index.json'), foreign);
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        [path.join(ROOT, 'bin/inversion-studio.js'), 'serve', '--port', '0', '--data', data, '--library', lib],
        {
          env: { ...process.env, INVERSION_STUDIO_ENGINE_WORKER: path.join(ROOT, 'test/main/host/fake-engine-worker.ts') },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
    expect(r.err).toMatch(
      /warning: The settings file .*config\.json was damaged .*moved to config\.json\.corrupt-.*Recovered: provider, libraryDir/,
    );
    expect(r.err).toMatch(/index\.json is not an Inversion Studio library index .*left untouched/);
    expect(r.code).toBe(1);
    expect(readFileSync(path.join(lib, 'index.json'), 'utf8')).toBe(foreign);
    expect(JSON.parse(readFileSync(path.join(data, 'config.json'), 'utf8')).libraryDir).toBe('/somewhere');
  });

  it('explains bad options', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [path.join(ROOT, 'bin/inversion-studio.js'), 'serve', '--port', 'abc'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('--port must be an integer');
  });

  it('unknown options, stray arguments and out-of-range ports are usage errors (exit 2, with the usage)', async () => {
    const err: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
    try {
      expect(await run(['--bogus'])).toBe(2);
      expect(err.join('\n')).toMatch(/inversion-studio serve: Unknown option '--bogus'[\s\S]*usage: inversion-studio serve/);
      err.length = 0;
      expect(await run(['extra'])).toBe(2);
      expect(err.join('\n')).toContain("unexpected argument 'extra'");
      err.length = 0;
      expect(await run(['--port', '65536'])).toBe(2);
      expect(err.join('\n')).toContain("--port must be an integer from 0 to 65535 (got '65536')");
    } finally {
      spy.mockRestore();
    }
  });
});
