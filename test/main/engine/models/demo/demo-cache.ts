/**
 * Shared demo-set location for tests: one cache folder in the OS temp dir, reused across test
 * files and runs (ensureDemoModelSet regenerates it atomically when the generator changes).
 */
import os from 'node:os';
import path from 'node:path';
import { ensureDemoModelSet } from '../../../../../src/main/engine/models/demo/index.js';

/** Cache root the tests share (override with INVERSION_STUDIO_TEST_CACHE). */
export function testCacheDir(): string {
  return process.env.INVERSION_STUDIO_TEST_CACHE ?? path.join(os.tmpdir(), 'inversion-studio-test-cache');
}

/** Folder of the demo model set in the shared test cache (generated on first use). */
export function testDemoModelSet(): Promise<string> {
  return ensureDemoModelSet(testCacheDir());
}
