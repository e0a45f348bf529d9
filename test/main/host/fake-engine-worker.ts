/**
 * Test-only engine process: the real worker loop serving the fake engine (fake-engine.ts), for
 * plumbing tests of the host, the web bridge and `serve`. Forked via NodeWorkerOptions.entry or
 * INVERSION_STUDIO_ENGINE_WORKER; INVERSION_STUDIO_FAKE_STEP_MS sets the fake's step time.
 */
import { runEngineWorker } from '../../../src/main/host/worker-runtime.js';
import { createFakeEngine } from './fake-engine.js';

runEngineWorker(async () => createFakeEngine({ stepMs: Number(process.env.INVERSION_STUDIO_FAKE_STEP_MS ?? 20) })).catch((e: unknown) => {
  console.error('fake engine worker: failed to start', e);
  process.exit(1);
});
