/**
 * The engine in an Electron utility process: onnxruntime's `run` blocks its thread, so inference
 * never runs in the main process. Messages flow over a MessageChannelMain port handed to the
 * worker in its first message (see src/main/host/engine-worker.ts).
 */
import { MessageChannelMain, utilityProcess } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerHandle, WorkerLauncher } from '../host/engine-host.js';
import type { HostToWorker, WorkerToHost } from '../host/worker-protocol.js';

/** The bundled worker sits next to the main bundle (electron.vite.config.ts builds both). */
export function workerScript(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine-worker.js');
}

export function utilityProcessLauncher(): WorkerLauncher {
  return () => {
    const child = utilityProcess.fork(workerScript(), [], {
      serviceName: 'Inversion Studio Engine',
      stdio: 'inherit',
      env: { ...process.env, INVERSION_STUDIO_TRANSPORT: 'electron' },
    });
    const { port1, port2 } = new MessageChannelMain();
    child.postMessage({ kind: 'port' }, [port2]);
    port1.start();
    let exited = false;
    let exitCode: number | null = null;
    const exitHandlers: Array<(code: number | null, signal: string | null) => void> = [];
    child.on('exit', (code) => {
      exited = true;
      exitCode = code;
      port1.close();
      for (const h of exitHandlers.splice(0)) h(code, null);
    });
    const handle: WorkerHandle = {
      get pid() {
        return child.pid;
      },
      send(msg: HostToWorker) {
        if (!exited) port1.postMessage(msg);
      },
      onMessage(h: (msg: WorkerToHost) => void) {
        port1.on('message', (e) => h(e.data as WorkerToHost));
      },
      onExit(h) {
        if (exited) h(exitCode, null);
        else exitHandlers.push(h);
      },
      kill() {
        if (!exited) child.kill();
      },
    };
    return handle;
  };
}
