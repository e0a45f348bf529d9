import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ONNX_PROTO_SCHEMA } from '../../../../src/main/engine/onnx/onnx-schema.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { assertModelFolder, externalDataLocations, validateModelFolder } from '../../../../src/main/engine/models/model-folder.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');

/** A real ModelProto (encoded by protobufjs from the ONNX schema) whose initializer lives in `location`. */
function onnxWithExternalData(location: string | null): Buffer {
  const root = protobuf.parse(ONNX_PROTO_SCHEMA).root;
  const ModelProto = root.lookupType('onnx.ModelProto');
  const init: Record<string, unknown> = { name: 'w', dims: [4], dataType: 1 };
  if (location) {
    init.dataLocation = 1;
    init.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: '0' },
      { key: 'length', value: '16' },
    ];
  } else {
    init.rawData = Buffer.alloc(16);
  }
  const msg = ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', initializer: [init], node: [{ opType: 'Identity', input: ['w'], output: ['y'] }], output: [{ name: 'y' }] },
  });
  return Buffer.from(ModelProto.encode(msg).finish());
}

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-ms-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function put(rel: string, content: Buffer | string = 'x'): Promise<void> {
  const p = path.join(tmp, ...rel.split('/'));
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
}

async function completeFolder(opts: { external?: string | null; tokenizer?: 'pair' | 'json' } = {}): Promise<void> {
  const external = opts.external === undefined ? 'weights.pb' : opts.external;
  await put('text_encoder/model.onnx', onnxWithExternalData(null));
  await put('unet/model.onnx', onnxWithExternalData(external));
  if (external) await put(`unet/${external}`, Buffer.alloc(16));
  await put('vae_decoder/model.onnx', onnxWithExternalData(null));
  await put('vae_encoder/model.onnx', onnxWithExternalData(null));
  if ((opts.tokenizer ?? 'pair') === 'pair') {
    await put('tokenizer/vocab.json', '{"a</w>": 0}');
    await put('tokenizer/merges.txt', '#version: 0.2\n');
  } else {
    await put('tokenizer/tokenizer.json', '{}');
  }
  await put('scheduler/scheduler_config.json', '{"_class_name":"PNDMScheduler"}');
  await put('model_index.json', '{}');
}

describe('externalDataLocations', () => {
  it('finds the location of external initializers in a real encoded ModelProto', () => {
    expect(externalDataLocations(onnxWithExternalData('weights.pb'))).toEqual(['weights.pb']);
    expect(externalDataLocations(onnxWithExternalData('model.onnx_data'))).toEqual(['model.onnx_data']);
    expect(externalDataLocations(onnxWithExternalData(null))).toEqual([]);
  });

  it.skipIf(!existsSync(path.join(fixtures, 'peer-a-opset14', 'unet.onnx')))('finds none in the self-contained PyTorch exports of the fixtures', async () => {
    for (const name of ['unet.onnx', 'vae_decoder.onnx', 'text_encoder.onnx']) {
      expect(externalDataLocations(await readFile(path.join(fixtures, 'peer-a-opset14', name)))).toEqual([]);
    }
  });
});

describe('validateModelFolder', () => {
  it('accepts the fp32 layout with unet/weights.pb', async () => {
    await completeFolder();
    const r = await validateModelFolder(tmp);
    expect(r.ok).toBe(true);
    expect(r.missing).toEqual([]);
    expect(r.unetExternalData).toEqual(['unet/weights.pb']);
    expect(r.tokenizer).toBe('vocab+merges');
    expect(r.hasVaeEncoder).toBe(true);
    expect(r.hasModelIndex).toBe(true);
    expect(r.extra).toEqual([]);
  });

  it('accepts model.onnx_data and tokenizer.json-only variants', async () => {
    await completeFolder({ external: 'model.onnx_data', tokenizer: 'json' });
    const r = await validateModelFolder(tmp);
    expect(r.ok).toBe(true);
    expect(r.unetExternalData).toEqual(['unet/model.onnx_data']);
    expect(r.tokenizer).toBe('tokenizer.json');
  });

  it('accepts a self-contained fp16-style UNet and notes it', async () => {
    await completeFolder({ external: null });
    const r = await validateModelFolder(tmp);
    expect(r.ok).toBe(true);
    expect(r.unetExternalData).toEqual([]);
  });

  it('names a missing UNet external data file', async () => {
    await completeFolder();
    await rm(path.join(tmp, 'unet', 'weights.pb'));
    const r = await validateModelFolder(tmp);
    expect(r.ok).toBe(false);
    expect(r.missing).toEqual(['unet/weights.pb (external data of unet/model.onnx)']);
    const err = await assertModelFolder(tmp).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('MODEL_FOLDER');
    expect((err as Error).message).toContain('unet/weights.pb');
    expect((err as Error).message).toMatch(/models download sd15/);
  });

  it('names every missing required file, including the tokenizer alternatives', async () => {
    await completeFolder();
    await rm(path.join(tmp, 'text_encoder'), { recursive: true });
    await rm(path.join(tmp, 'tokenizer', 'merges.txt'));
    await rm(path.join(tmp, 'scheduler'), { recursive: true });
    const r = await validateModelFolder(tmp);
    expect(r.missing).toEqual(['text_encoder/model.onnx', 'scheduler/scheduler_config.json', 'tokenizer/merges.txt (or tokenizer/tokenizer.json)']);
  });

  it('treats zero-byte files as missing and reports extra entries and leftovers', async () => {
    await completeFolder();
    await put('vae_decoder/model.onnx', '');
    await put('notes.txt', 'hi');
    await put('unet/random.bin', 'zz');
    await put('unet/weights.pb.part', 'zz');
    const r = await validateModelFolder(tmp);
    expect(r.ok).toBe(false);
    expect(r.empty).toContain('vae_decoder/model.onnx');
    expect(r.missing).toContain('vae_decoder/model.onnx');
    expect(r.extra).toEqual(expect.arrayContaining(['notes.txt', 'unet/random.bin']));
    expect(r.partial).toEqual(['unet/weights.pb.part']);
  });

  it('optional parts may be absent', async () => {
    await completeFolder();
    await rm(path.join(tmp, 'vae_encoder'), { recursive: true });
    await rm(path.join(tmp, 'model_index.json'));
    const r = await validateModelFolder(tmp);
    expect(r.ok).toBe(true);
    expect(r.hasVaeEncoder).toBe(false);
    expect(r.hasModelIndex).toBe(false);
    expect(r.warnings.join('\n')).toMatch(/vae_encoder/);
  });

  it('a parent folder (wrong level) lists everything as missing and the subfolder as extra', async () => {
    await completeFolder();
    const parent = await mkdtemp(path.join(os.tmpdir(), 'is-ms-parent-'));
    try {
      await rm(parent, { recursive: true });
      await mkdir(parent);
      await writeFile(path.join(parent, 'readme'), 'x');
      const r = await validateModelFolder(parent);
      expect(r.ok).toBe(false);
      expect(r.missing).toContain('unet/model.onnx');
      expect(r.extra).toContain('readme');
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('a path that is not a folder is reported, not thrown', async () => {
    const r = await validateModelFolder(path.join(tmp, 'nope'));
    expect(r.ok).toBe(false);
    expect(r.warnings[0]).toMatch(/not a folder/);
  });
});
