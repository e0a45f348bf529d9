/**
 * The engine process's main loop, independent of which engine it serves: opens the channel it
 * was started with (an Electron utility process's MessagePort, handed over in the first
 * parentPort message, or a Node child process's `process.send` from child_process.fork), waits
 * for `configure`, replies `ready`, then feeds requests to EngineService.
 *
 * Protocol: worker-protocol.ts. Any uncaught error ends the process; the host notices the exit
 * and restarts it. Entry points: engine-worker.ts (the real engine); tests have their own.
 */
import { EngineService } from './engine-service.js';
import type { EngineAdapter } from './engine-adapter.js';
import { onNotice, recentNotices } from './notices.js';
import type { HostToWorker, WorkerToHost } from './worker-protocol.js';

interface Channel {
  send(msg: WorkerToHost): void;
  onMessage(handler: (msg: HostToWorker) => void): void;
}

interface ElectronMessagePort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
  start(): void;
}
interface ElectronParentPort {
  once(event: 'message', listener: (e: { data: unknown; ports: ElectronMessagePort[] }) => void): void;
  postMessage(message: unknown): void;
}

async function openChannel(): Promise<Channel> {
  const parentPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (parentPort) {
    const port = await new Promise<ElectronMessagePort>((resolve) => {
      parentPort.once('message', (e) => {
        const p = e.ports[0];
        if (p) resolve(p);
        else {
          console.error('engine worker: expected a MessagePort in the first message');
          process.exit(2);
        }
      });
    });
    port.start();
    return {
      send: (msg) => port.postMessage(msg),
      onMessage: (h) => port.on('message', (e) => h(e.data as HostToWorker)),
    };
  }
  if (process.send) {
    return {
      send: (msg) => {
        process.send!(msg);
      },
      onMessage: (h) => process.on('message', (m) => h(m as HostToWorker)),
    };
  }
  throw new Error('engine worker: no parent channel (start it with child_process.fork or utilityProcess.fork)');
}

/** Serve `createEngine()`'s engine over the parent channel until the parent goes away. */
export async function runEngineWorker(createEngine: () => Promise<EngineAdapter>): Promise<void> {
  process.on('uncaughtException', (e) => {
    console.error('engine worker: uncaught exception', e);
    process.exit(70);
  });
  process.on('unhandledRejection', (e) => {
    console.error('engine worker: unhandled rejection', e);
    process.exit(70);
  });
  // Parent gone (IPC channel closed): nothing left to serve.
  process.on('disconnect', () => process.exit(0));
  // The host stops the worker with SIGTERM; exiting through process.exit runs the exit hooks that
  // remove this process's temp files (temp-files.ts), which the default SIGTERM action skips.
  process.on('SIGTERM', () => process.exit(143));

  const channel = await openChannel();
  // Notices raised here (the library's) go to the host, which shows them.
  for (const n of recentNotices()) channel.send({ kind: 'notice', notice: n });
  onNotice((n) => channel.send({ kind: 'notice', notice: n }));
  const engine = await createEngine();
  let service: EngineService | undefined;
  const backlog: HostToWorker[] = [];

  const handle = (msg: HostToWorker) => {
    if (!msg || typeof msg !== 'object') return;
    if (msg.kind === 'configure') {
      if (!service) {
        service = new EngineService({
          engine,
          settings: msg.config.settings,
          libraryDir: msg.config.libraryDir,
          send: (m) => channel.send(m),
          transport: process.env.INVERSION_STUDIO_TRANSPORT === 'electron' ? 'electron' : 'web',
        });
        channel.send({ kind: 'ready', capabilities: [...engine.capabilities], pid: process.pid });
        for (const m of backlog.splice(0)) handle(m);
      } else {
        void service.configure(msg.config.settings, msg.config.libraryDir);
      }
      return;
    }
    if (!service) {
      backlog.push(msg);
      return;
    }
    if (msg.kind === 'request') {
      const { jobId, ...clientMessage } = msg;
      void service.handle(clientMessage, typeof jobId === 'string' ? jobId : undefined);
    }
  };
  channel.onMessage(handle);
}
