import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import {
  defaultCacheDir,
  installedModelDir,
  listModels,
  modelDir,
  resolveCacheDir,
  sweepCache,
  writeInstallRecord,
} from '../../../../src/main/engine/models/cache.js';
import { deadPid } from '../io/fs-fixtures.js';
import { importModelFolder } from '../../../../src/main/engine/models/import.js';
import { parseManifest, manifestBytes } from '../../../../src/main/engine/models/manifest-schema.js';
import { getManifest, loadManifests, defaultManifestDir } from '../../../../src/main/engine/models/shipped-manifests.js';

let tmp: string;
let cache: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cache-'));
  cache = path.join(tmp, 'cache');
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function put(root: string, rel: string, content: string | Buffer = 'x'): Promise<void> {
  const p = path.join(root, ...rel.split('/'));
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
}

async function sdFolder(root: string): Promise<void> {
  for (const rel of ['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'scheduler/scheduler_config.json']) {
    await put(root, rel, `content of ${rel}`);
  }
}

const sdManifest = parseManifest({
  id: 'sd15',
  title: 'SD 1.5',
  kind: 'diffusion',
  hubRepo: 'org/sd',
  revision: 'main',
  files: [{ path: 'unet/model.onnx', sizeHint: 1000 }],
});
const lmManifest = parseManifest({
  id: 'gpt2',
  title: 'GPT-2',
  kind: 'lm',
  hubRepo: 'Xenova/gpt2',
  revision: 'main',
  files: [{ path: 'config.json' }, { path: 'onnx/decoder_model_merged.onnx', size: 3 }, { path: 'README.md', optional: true }],
});

describe('cache dir', () => {
  it('uses the per-OS default folders', () => {
    expect(defaultCacheDir({}, 'linux', '/home/u')).toBe('/home/u/.cache/inversion-studio');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 'linux', '/home/u')).toBe('/x/cache/inversion-studio');
    expect(defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\inversion-studio');
    expect(defaultCacheDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Caches/inversion-studio');
  });
  it('option beats INVERSION_STUDIO_CACHE beats the default', () => {
    expect(resolveCacheDir('/opt/c', { INVERSION_STUDIO_CACHE: '/env/c' })).toBe(path.resolve('/opt/c'));
    expect(resolveCacheDir(undefined, { INVERSION_STUDIO_CACHE: '/env/c' })).toBe(path.resolve('/env/c'));
  });
  it('rejects unsafe model names', () => {
    expect(() => modelDir(cache, '../evil')).toThrow(EngineError);
    expect(() => modelDir(cache, 'a/b')).toThrow(/not a valid model name/);
  });
});

describe('manifest schema', () => {
  const base = { id: 'x', title: 'X', kind: 'clip', hubRepo: 'a/b', revision: 'main' };
  it('rejects paths that escape the model folder, bad hashes and duplicates', () => {
    expect(() => parseManifest({ ...base, files: [{ path: '../etc/passwd' }] })).toThrow(/not a valid model manifest/);
    expect(() => parseManifest({ ...base, files: [{ path: '/abs' }] })).toThrow(EngineError);
    expect(() => parseManifest({ ...base, files: [{ path: 'a\\b' }] })).toThrow(EngineError);
    expect(() => parseManifest({ ...base, files: [{ path: 'a', sha256: 'ABC' }] })).toThrow(/sha256/);
    expect(() => parseManifest({ ...base, files: [{ path: 'a' }, { path: 'a' }] })).toThrow(/duplicate/);
    expect(() => parseManifest({ ...base, kind: 'vae', files: [{ path: 'a' }] })).toThrow(EngineError);
  });
  it('sums exact sizes and hints', () => {
    expect(manifestBytes(lmManifest)).toEqual({ bytes: 3, exact: false });
  });
});

describe('shipped manifests (models/*.json)', () => {
  it('all parse, have unique ids and cover the models the app needs', async () => {
    const all = await loadManifests(defaultManifestDir({}));
    const ids = all.map((m) => m.id);
    for (const id of ['sd15', 'sd15-fp16', 'sd-turbo', 'florence2-base-ft', 'vit-gpt2', 'clip-vit-l14', 'gpt2', 'e2t-inversion', 'e2t-corrector']) {
      expect(ids).toContain(id);
    }
    const sd15 = all.find((m) => m.id === 'sd15')!;
    expect(sd15.kind).toBe('diffusion');
    const paths = sd15.files.map((f) => f.path);
    for (const p of ['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'scheduler/scheduler_config.json']) {
      expect(paths).toContain(p);
    }
    // Every diffusion manifest lists a complete model folder.
    for (const m of all.filter((x) => x.kind === 'diffusion')) {
      const ps = m.files.map((f) => f.path);
      expect(ps).toEqual(expect.arrayContaining(['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'scheduler/scheduler_config.json']));
    }
  });
  it('getManifest names the known ids for an unknown one', async () => {
    await expect(getManifest('nope', defaultManifestDir({}))).rejects.toThrow(/Known models: .*sd15/);
  });
});

describe('importModelFolder and listModels', () => {
  it('copies a valid diffusion folder into the cache and registers it', async () => {
    const src = path.join(tmp, 'src');
    await sdFolder(src);
    const events: string[] = [];
    const r = await importModelFolder(src, { name: 'sd15', cacheDir: cache, manifests: [sdManifest], onProgress: (e) => events.push(e.phase) });
    expect(r.linked).toBe(false);
    expect(r.report?.ok).toBe(true);
    expect(await readFile(path.join(cache, 'models', 'sd15', 'unet', 'model.onnx'), 'utf8')).toBe('content of unet/model.onnx');
    expect(events).toEqual(expect.arrayContaining(['validate', 'copy', 'register']));
    expect(await installedModelDir(cache, 'sd15')).toBe(path.join(cache, 'models', 'sd15'));

    const list = await listModels(cache, [sdManifest, lmManifest]);
    expect(list.find((m) => m.id === 'sd15')).toMatchObject({ status: 'installed', source: 'import' });
    expect(list.find((m) => m.id === 'gpt2')).toMatchObject({ status: 'available', source: 'manifest' });
    // no temp folders left behind
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(path.join(cache, 'models'))).filter((n) => n.includes('.import-'))).toEqual([]);
  });

  it('links a folder in place when asked and never deletes the user folder on overwrite', async () => {
    const src = path.join(tmp, 'src');
    await sdFolder(src);
    await importModelFolder(src, { name: 'mine', cacheDir: cache, link: true });
    const st = await lstat(path.join(cache, 'models', 'mine'));
    expect(st.isSymbolicLink()).toBe(true);
    const list = await listModels(cache, []);
    expect(list).toEqual([expect.objectContaining({ id: 'mine', status: 'installed', linkedTo: src, kind: 'diffusion' })]);

    await expect(importModelFolder(src, { name: 'mine', cacheDir: cache, link: true })).rejects.toThrow(/already exists/);
    await importModelFolder(src, { name: 'mine', cacheDir: cache, link: true, overwrite: true });
    expect(existsSync(path.join(src, 'unet', 'model.onnx'))).toBe(true);
  });

  it('rejects an incomplete diffusion folder naming the missing files, and registers nothing', async () => {
    const src = path.join(tmp, 'src');
    await sdFolder(src);
    await rm(path.join(src, 'vae_decoder'), { recursive: true });
    const err = await importModelFolder(src, { name: 'broken', cacheDir: cache }).catch((e) => e);
    expect((err as EngineError).code).toBe('MODEL_FOLDER');
    expect((err as Error).message).toContain('vae_decoder/model.onnx');
    expect(existsSync(path.join(cache, 'models', 'broken'))).toBe(false);
    expect(await listModels(cache, [])).toEqual([]);
  });

  it('checks non-diffusion imports against the named manifest', async () => {
    const src = path.join(tmp, 'gpt2');
    await put(src, 'config.json', '{}');
    const err = await importModelFolder(src, { name: 'gpt2', cacheDir: cache, manifests: [lmManifest] }).catch((e) => e);
    expect((err as Error).message).toContain('onnx/decoder_model_merged.onnx');
    await put(src, 'onnx/decoder_model_merged.onnx', 'abc');
    const r = await importModelFolder(src, { name: 'gpt2', cacheDir: cache, manifests: [lmManifest] });
    expect(r.kind).toBe('lm');
    expect(r.record.manifestId).toBe('gpt2');
  });

  it('rejects bad names, the reserved demo name, and non-folders', async () => {
    const src = path.join(tmp, 'src');
    await sdFolder(src);
    await expect(importModelFolder(src, { name: '../x', cacheDir: cache })).rejects.toThrow(/not a valid model name/);
    await expect(importModelFolder(src, { name: 'demo', cacheDir: cache })).rejects.toThrow(/reserved/);
    await expect(importModelFolder(path.join(tmp, 'missing'), { name: 'x', cacheDir: cache })).rejects.toThrow(/not a folder/);
  });

  it('lists a partial download as partial and a generated model from its record', async () => {
    await put(modelDir(cache, 'gpt2'), 'config.json.part', 'half');
    await mkdir(modelDir(cache, 'demo'), { recursive: true });
    await put(modelDir(cache, 'demo'), 'unet/model.onnx', 'tiny');
    await writeInstallRecord(cache, { id: 'demo', kind: 'diffusion', source: 'generated', installedAt: new Date().toISOString() });
    const list = await listModels(cache, [lmManifest]);
    expect(list.find((m) => m.id === 'gpt2')).toMatchObject({ status: 'partial', bytesOnDisk: 4 });
    expect(list.find((m) => m.id === 'demo')).toMatchObject({ status: 'installed', source: 'generated' });
    await expect(installedModelDir(cache, 'gpt2')).rejects.toThrow(/models download gpt2/);
  });
});

describe('sweepCache', () => {
  it('removes what dead processes left (session models, half demo sets and imports, record temps) and keeps the rest', async () => {
    const dead = deadPid();
    const stale = [
      `tmp/session-${dead}-Ab12Cd/model.onnx`,
      `models/.demo-tmp-${dead}-00ff00ff/unet/model.onnx`,
      `models/sd15.import-${dead}-1700000000000/x`,
      `registry/sd15.json.${dead}.tmp`,
      `registry/.sd15.json.${dead}-0a1b2c3d.tmp`,
    ];
    const keep = [`tmp/session-${process.pid}-Zz99Yy/model.onnx`, 'models/demo/model_index.json', 'registry/demo.json'];
    for (const f of [...stale, ...keep]) await put(cache, f);
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const f of [...stale, ...keep]) await utimes(path.join(cache, f.split('/').slice(0, 2).join('/')), old, old);
    const removed = await sweepCache(cache);
    expect(removed.sort()).toEqual(stale.map((f) => f.split('/').slice(0, 2).join('/')).sort());
    for (const f of keep) expect(existsSync(path.join(cache, f))).toBe(true);
    expect(await sweepCache(path.join(tmp, 'absent'))).toEqual([]);
  });

  it('writes install records through safe-write (no temp file left)', async () => {
    await writeInstallRecord(cache, { id: 'x1', kind: 'diffusion', source: 'generated', installedAt: new Date().toISOString() });
    expect(await readdir(path.join(cache, 'registry'))).toEqual(['x1.json']);
  });
});
