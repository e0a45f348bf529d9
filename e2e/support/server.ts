/**
 * Starts `inversion-studio serve --port 0 --models demo` on a fresh library and data folder and
 * returns the printed URL (it carries the per-launch token). One server per test file, so files
 * do not see each other's libraries. `prepare` can put files there first (a damaged settings file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StudioServer {
  url: string;
  /** Origin without the token, e.g. http://127.0.0.1:40123 */
  origin: string;
  token: string;
  libraryDir: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  models?: string;
  /**
   * Runs before the server starts, with the (not yet created) library and data folders: e.g. to
   * put a damaged config.json or an existing library there.
   */
  prepare?: (dirs: { libraryDir: string; dataDir: string }) => void | Promise<void>;
  /** Pass `--library` (default true); false lets the settings file name the library folder. */
  libraryFlag?: boolean;
  /** Extra environment for the server (and its engine worker). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export async function startServer(options: ServeOptions = {}): Promise<StudioServer> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'studio-e2e-'));
  const libraryDir = path.join(tmp, 'library');
  const dataDir = path.join(tmp, 'data');
  await options.prepare?.({ libraryDir, dataDir });
  const bin = path.join(REPO_ROOT, 'bin/inversion-studio.js');
  const library = options.libraryFlag === false ? [] : ['--library', libraryDir];
  // STUDIO_E2E_WEB_DIR serves another renderer build than out/web (e.g. one built elsewhere).
  const web = process.env.STUDIO_E2E_WEB_DIR ? ['--web', process.env.STUDIO_E2E_WEB_DIR] : [];
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--models', options.models ?? 'demo', ...library, '--data', dataDir, ...web],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, INVERSION_STUDIO_HOME: dataDir, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`inversion-studio serve printed no URL within ${options.timeoutMs ?? 240_000} ms:\n${out}`)),
      options.timeoutMs ?? 240_000,
    );
    const check = () => {
      const m = /running at (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`inversion-studio serve exited with ${code}:\n${out}`));
    });
  });
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    token: parsed.searchParams.get('token') ?? '',
    libraryDir,
    dataDir,
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Chromium from Debian (no Playwright browser download): `apt-get install -y chromium`. */
export const CHROMIUM_LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};
