import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../../main/engine/models/http-server.js';
import { main } from '../../../src/cli/main.js';
import { progressLine } from '../../../src/cli/commands/models.js';

let server: TestServer;
let tmp: string;
let cache: string;
let manifests: string;
let out: string[];
let err: string[];
const A = randomBytes(50_000);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cli-models-'));
  cache = path.join(tmp, 'cache');
  manifests = path.join(tmp, 'manifests');
  await mkdir(manifests);
  await writeFile(
    path.join(manifests, 'tiny.json'),
    JSON.stringify({
      id: 'tiny',
      title: 'Tiny',
      kind: 'clip',
      hubRepo: 'org/tiny',
      revision: 'main',
      files: [{ path: 'onnx/model.onnx', size: A.length, sha256: sha(A) }],
    }),
  );
  await writeFile(
    path.join(manifests, 'sdx.json'),
    JSON.stringify({
      id: 'sdx',
      title: 'SD test',
      kind: 'diffusion',
      hubRepo: 'org/sdx',
      revision: 'main',
      files: [{ path: 'unet/model.onnx', sizeHint: 2_000_000 }],
    }),
  );
  server.reset();
  server.files.set('/org/tiny/resolve/main/onnx/model.onnx', A);
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err.push(String(s));
    return true;
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  delete process.env.INVERSION_STUDIO_OFFLINE;
  await rm(tmp, { recursive: true, force: true });
});

const common = () => ['--cache', cache, '--manifests', manifests];

async function sdFolder(root: string): Promise<void> {
  for (const rel of [
    'text_encoder/model.onnx',
    'unet/model.onnx',
    'vae_decoder/model.onnx',
    'tokenizer/vocab.json',
    'tokenizer/merges.txt',
    'scheduler/scheduler_config.json',
  ]) {
    const p = path.join(root, ...rel.split('/'));
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, `data ${rel}`);
  }
}

describe('inversion-studio models', () => {
  it('list shows every manifest as available', async () => {
    expect(await main(['models', 'list', ...common()])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/NAME\s+KIND\s+STATUS\s+SIZE\s+SOURCE/);
    expect(text).toMatch(/sdx\s+diffusion\s+available\s+~2\.00 MB\s+org\/sdx@main/);
    expect(text).toMatch(/tiny\s+clip\s+available/);
  });

  it('download fetches and verifies with a progress line on stderr, then list shows it installed', async () => {
    expect(await main(['models', 'download', 'tiny', '--endpoint', server.url, ...common()])).toBe(0);
    expect(existsSync(path.join(cache, 'models', 'tiny', 'onnx', 'model.onnx'))).toBe(true);
    expect(out.join('\n')).toMatch(/tiny installed in .* \(50\.0 kB downloaded, 1 files verified\)/);
    expect(err.join('')).toMatch(/tiny \[1\/1\] onnx\/model\.onnx {2}50\.0 kB \/ 50\.0 kB {2}100\.0%/);

    out.length = 0;
    expect(await main(['models', 'list', '--json', ...common()])).toBe(0);
    const listed = JSON.parse(out.join('\n')) as { models: Array<{ id: string; status: string }> };
    expect(listed.models.find((m) => m.id === 'tiny')!.status).toBe('installed');

    out.length = 0;
    expect(await main(['models', 'download', 'tiny', '--endpoint', server.url, ...common()])).toBe(0);
    expect(out.join('\n')).toMatch(/already installed/);
  });

  it('download of a corrupted file fails with the checksum message and exit 1', async () => {
    server.behaviours.set('/org/tiny/resolve/main/onnx/model.onnx', { kind: 'corrupt', at: 5 });
    expect(await main(['models', 'download', 'tiny', '--endpoint', server.url, ...common()])).toBe(1);
    expect(err.join('\n')).toMatch(/sha256 mismatch/);
    expect(existsSync(path.join(cache, 'models', 'tiny', 'onnx', 'model.onnx'))).toBe(false);
  });

  it('offline download fails fast and explains import', async () => {
    process.env.INVERSION_STUDIO_OFFLINE = '1';
    expect(await main(['models', 'download', 'tiny', '--endpoint', server.url, ...common()])).toBe(1);
    expect(err.join('\n')).toMatch(/offline mode.*models import DIR --name tiny/s);
    expect(server.log).toEqual([]);
  });

  it('a bad --timeout is a usage error (exit 2) before anything is fetched; a fractional one is accepted', async () => {
    for (const bad of ['0', '-1', 'abc', '', '0x10']) {
      err.length = 0;
      expect(await main(['models', 'download', 'tiny', `--timeout=${bad}`, '--endpoint', server.url, ...common()])).toBe(2);
      expect(err.join('\n')).toContain(`--timeout must be a number >= 0.001 (got '${bad}')`);
    }
    expect(server.log).toEqual([]);
    expect(await main(['models', 'download', 'tiny', '--timeout', '2.5', '--endpoint', server.url, ...common()])).toBe(0);
  });

  it('unknown model names the known ones', async () => {
    expect(await main(['models', 'download', 'nope', ...common()])).toBe(1);
    expect(err.join('\n')).toMatch(/unknown model 'nope'. Known models: sdx, tiny/);
  });

  it('import registers a valid folder; an incomplete one fails naming the files', async () => {
    const src = path.join(tmp, 'my-sd');
    await sdFolder(src);
    expect(await main(['models', 'import', src, '--name', 'sdx', ...common()])).toBe(0);
    expect(out.join('\n')).toMatch(/sdx imported from/);
    out.length = 0;
    await main(['models', 'list', ...common()]);
    expect(out.join('\n')).toMatch(/sdx\s+diffusion\s+installed/);

    const bad = path.join(tmp, 'bad-sd');
    await sdFolder(bad);
    await rm(path.join(bad, 'unet'), { recursive: true });
    expect(await main(['models', 'import', bad, '--name', 'other', ...common()])).toBe(1);
    expect(err.join('\n')).toMatch(/unet\/model\.onnx/);
  });

  it('import --link links in place', async () => {
    const src = path.join(tmp, 'my-sd');
    await sdFolder(src);
    expect(await main(['models', 'import', src, '--name', 'linked', '--link', ...common()])).toBe(0);
    expect(out.join('\n')).toMatch(/linked linked to/);
  });

  it('check reports a folder and exits 1 when incomplete', async () => {
    const src = path.join(tmp, 'my-sd');
    await sdFolder(src);
    expect(await main(['models', 'check', src])).toBe(0);
    await rm(path.join(src, 'tokenizer', 'merges.txt'));
    expect(await main(['models', 'check', src])).toBe(1);
    expect(out.join('\n')).toMatch(/missing: tokenizer\/merges\.txt/);
  });

  it('usage errors exit 2', async () => {
    expect(await main(['models'])).toBe(2);
    expect(await main(['models', 'frobnicate'])).toBe(2);
    expect(await main(['models', 'import', tmp, ...common()])).toBe(2);
    expect(err.join('\n')).toMatch(/--name is required/);
    expect(await main(['models', 'list', '--bogus'])).toBe(2);
  });

  it('formats progress lines with rate and ETA', () => {
    expect(
      progressLine({
        phase: 'download',
        modelId: 'sd15',
        file: 'unet/weights.pb',
        fileIndex: 8,
        fileCount: 11,
        bytes: 1_200_000_000,
        total: 5_480_000_000,
        rate: 35_200_000,
        etaSeconds: 121.6,
      }),
    ).toBe('sd15 [9/11] unet/weights.pb  1.20 GB / 5.48 GB  21.9%  35.2 MB/s  ETA 2m02s');
  });
});
