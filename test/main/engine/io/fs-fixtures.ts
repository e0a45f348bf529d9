/** Special files for the safe-write tests, created in a temp folder (never a system device). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

/** Whether `mkfifo` can be run here (absent on Windows). */
export const canMakeFifo: boolean = process.platform !== 'win32' && spawnSync('mkfifo', ['--version']).error === undefined;

/** Appended to the names of FIFO tests, so a skipped one says why. */
export const NO_FIFO = canMakeFifo ? '' : ' [skipped: mkfifo is not available on this system]';

/** Make a FIFO at `file` with the system's mkfifo; throws when that fails. */
export function makeFifo(file: string): void {
  const r = spawnSync('mkfifo', [file]);
  if (r.status !== 0 || !existsSync(file)) throw new Error(`mkfifo ${file} failed: ${String(r.stderr)}`);
}

/** A listening Unix socket at `file`; close it when done. */
export async function makeSocket(file: string): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  return server;
}

/** A pid that is not running (for stale-temp names): the highest pids are almost never in use. */
export function deadPid(): number {
  for (let pid = 4_194_000; pid > 4_000_000; pid--) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
  throw new Error('no free pid found');
}
