/**
 * Entry point of the engine process (Electron utility process or Node child process): serves the
 * real engine. The loop itself is worker-runtime.ts.
 */
import { runEngineWorker } from './worker-runtime.js';

runEngineWorker(async () => (await import('./real-engine.js')).createRealEngine()).catch((e: unknown) => {
  console.error('engine worker: failed to start', e);
  process.exit(1);
});
