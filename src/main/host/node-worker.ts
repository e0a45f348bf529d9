/**
 * Launch the engine worker as a Node child process (child_process.fork). Used by the web bridge
 * and tests; the Electron app uses utilityProcess (src/main/app/engine-process.ts) instead.
 * From sources the worker is TypeScript, so the child loads tsx first.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerHandle, WorkerLauncher } from './engine-host.js';
import type { HostToWorker, WorkerToHost } from './worker-protocol.js';

export interface NodeWorkerOptions {
  /** Extra environment for the worker. */
  env?: NodeJS.ProcessEnv;
  /**
   * Module to fork instead of the engine worker (a .ts file runs through tsx), e.g. a test entry
   * serving a fake engine. Default: INVERSION_STUDIO_ENGINE_WORKER when set, else engine-worker.
   */
  entry?: string;
  /** Forward the worker's stdout/stderr (default: inherit). */
  silent?: boolean;
}

export function workerEntry(entry = process.env.INVERSION_STUDIO_ENGINE_WORKER): { file: string; execArgv: string[] } {
  const tsxArgs = (): string[] => ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
  if (entry) return { file: path.resolve(entry), execArgv: entry.endsWith('.ts') ? tsxArgs() : [] };
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  const js = path.join(dir, 'engine-worker.js');
  if (!here.endsWith('.ts') && existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(dir, 'engine-worker.ts'), execArgv: tsxArgs() };
}

export function nodeWorkerLauncher(options: NodeWorkerOptions = {}): WorkerLauncher {
  return () => {
    const { file, execArgv } = workerEntry(options.entry ?? process.env.INVERSION_STUDIO_ENGINE_WORKER);
    const child = fork(file, [], {
      execArgv,
      env: { ...process.env, ...options.env },
      serialization: 'advanced',
      stdio: options.silent ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (options.silent) {
      child.stdout?.resume();
      child.stderr?.resume();
    }
    let exited = false;
    const exitHandlers: Array<(code: number | null, signal: string | null) => void> = [];
    child.on('exit', (code, signal) => {
      exited = true;
      for (const h of exitHandlers.splice(0)) h(code, signal);
    });
    child.on('error', (e) => console.error('engine worker:', e.message));
    const handle: WorkerHandle = {
      get pid() {
        return child.pid;
      },
      send(msg: HostToWorker) {
        if (!exited && child.connected) child.send(msg);
      },
      onMessage(h: (msg: WorkerToHost) => void) {
        child.on('message', (m) => h(m as WorkerToHost));
      },
      onExit(h) {
        if (exited) h(child.exitCode, child.signalCode);
        else exitHandlers.push(h);
      },
      kill() {
        if (!exited) child.kill('SIGTERM');
      },
    };
    return handle;
  };
}
