import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadCausalLm } from './language-model.js';

describe('fluency language model', () => {
  it('says how to install GPT-2 when it is not in the cache (offline)', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'is-lm-'));
    try {
      await expect(loadCausalLm({ cacheDir, offline: true })).rejects.toMatchObject({
        code: 'NOT_INSTALLED',
        message: expect.stringContaining('inversion-studio models download gpt2'),
      });
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
