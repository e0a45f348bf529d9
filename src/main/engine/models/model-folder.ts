/**
 * Validation of a diffusers ONNX model folder (docs/generation.md, "The diffusers ONNX layout"):
 *
 *   text_encoder/model.onnx        required
 *   unet/model.onnx                required (+ external data: weights.pb, model.onnx_data, ...)
 *   vae_decoder/model.onnx         required
 *   vae_encoder/model.onnx         optional (image-to-image, inversion init from an image)
 *   tokenizer/vocab.json + merges.txt, or tokenizer/tokenizer.json   required
 *   scheduler/scheduler_config.json                                  required
 *   model_index.json               optional
 *
 * This checks layout only (files present, non-empty, external data referenced by each small
 * model.onnx present); loading and I/O checks belong to the runtime.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { tempWriterPid } from '../io/temp-files.js';

export const REQUIRED_MODEL_FILES = [
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'vae_decoder/model.onnx',
  'scheduler/scheduler_config.json',
] as const;

const COMPONENTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
type Component = (typeof COMPONENTS)[number];

/** Top-level entries of a diffusers folder that are expected or harmless. */
const KNOWN_TOP_LEVEL = new Set([
  ...COMPONENTS,
  'tokenizer',
  'scheduler',
  'model_index.json',
  'feature_extractor',
  'safety_checker',
  'README.md',
  // the shapes set's extra components (world CLIP, captioner, language model)
  'clip',
  'captioner',
  'lm',
  'LICENSE',
  'LICENSE.md',
  'LICENSE.txt',
  '.gitattributes',
  '.git',
]);

/** Files that may sit next to a component's model.onnx without being suspicious. */
const KNOWN_COMPONENT_FILES = new Set(['model.onnx', 'config.json', 'weights.pb', 'model.onnx_data', 'model.onnx.data']);
const KNOWN_TOKENIZER_FILES = new Set(['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json']);

/** Conventional external-data names, looked for when the model file is too big to scan cheaply. */
const CONVENTIONAL_EXTERNAL = ['weights.pb', 'model.onnx_data', 'model.onnx.data'];

/** model.onnx files above this size are assumed self-contained and not scanned for external data. */
const SCAN_LIMIT_BYTES = 64 * 1024 * 1024;

export interface ModelFolderReport {
  ok: boolean;
  dir: string;
  /** Required files (repo paths) that are absent or empty; alternatives joined with ' or '. */
  missing: string[];
  /** Entries that are not part of the layout (harmless, reported so the user can spot a wrong folder). */
  extra: string[];
  /** Files that exist but are 0 bytes (also counted in `missing` when required). */
  empty: string[];
  /** Leftover `.part` files from an interrupted copy or download. */
  partial: string[];
  tokenizer: 'vocab+merges' | 'tokenizer.json' | null;
  hasVaeEncoder: boolean;
  hasModelIndex: boolean;
  /** Per component, the external data files its model.onnx references (repo paths). */
  externalData: Partial<Record<Component, string[]>>;
  /** The UNet's external data file(s), if any (the 3.44 GB `weights.pb` / `model.onnx_data` of fp32 exports). */
  unetExternalData: string[];
  warnings: string[];
}

async function fileSize(p: string): Promise<number | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function listDir(p: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(p, { withFileTypes: true });
  } catch {
    return [];
  }
}

function readVarint(buf: Buffer, pos: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 5 && pos + i < buf.length; i++) {
    const b = buf[pos + i]!;
    v += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [v, pos + i + 1];
    mul *= 128;
  }
  return undefined;
}

/**
 * External-data locations referenced by an ONNX file, found without a full protobuf parse: every
 * TensorProto.external_data entry is a StringStringEntryProto whose encoding is
 * `0x0a 0x08 "location" 0x12 <varint len> <file name>`, a byte pattern that is specific enough.
 */
export function externalDataLocations(onnx: Buffer): string[] {
  const needle = Buffer.from([0x0a, 0x08, ...Buffer.from('location'), 0x12]);
  const found = new Set<string>();
  let at = onnx.indexOf(needle);
  while (at >= 0) {
    const v = readVarint(onnx, at + needle.length);
    if (v) {
      const [len, start] = v;
      if (len > 0 && len < 4096 && start + len <= onnx.length) {
        const name = onnx.subarray(start, start + len).toString('utf8');
        if (!name.includes('\0')) found.add(name);
      }
    }
    at = onnx.indexOf(needle, at + needle.length);
  }
  return [...found];
}

async function readSmall(p: string, limit: number): Promise<Buffer | undefined> {
  const size = await fileSize(p);
  if (size === undefined || size > limit) return undefined;
  const fh = await open(p, 'r');
  try {
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Why model_index.json is unusable (empty, not JSON, not an object), or undefined when it is fine. */
async function modelIndexProblem(file: string, size: number): Promise<string | undefined> {
  if (size === 0) return 'is empty';
  if (size > 1024 * 1024) return `is ${size} bytes, far more than a model index`;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    return `is not valid JSON (${(e as Error).message})`;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'does not hold a JSON object';
  return undefined;
}

/** Checks the layout of a diffusers ONNX folder; never throws for a bad folder (see `assertModelFolder`). */
export async function validateModelFolder(dir: string): Promise<ModelFolderReport> {
  const root = path.resolve(dir);
  const report: ModelFolderReport = {
    ok: false,
    dir: root,
    missing: [],
    extra: [],
    empty: [],
    partial: [],
    tokenizer: null,
    hasVaeEncoder: false,
    hasModelIndex: false,
    externalData: {},
    unetExternalData: [],
    warnings: [],
  };
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    report.missing.push(...REQUIRED_MODEL_FILES, 'tokenizer/vocab.json+merges.txt or tokenizer/tokenizer.json');
    report.warnings.push(`${root} is not a folder`);
    return report;
  }
  const at = (rel: string) => path.join(root, ...rel.split('/'));
  const requireFile = async (rel: string): Promise<boolean> => {
    const s = await fileSize(at(rel));
    if (s === undefined) {
      report.missing.push(rel);
      return false;
    }
    if (s === 0) {
      report.empty.push(rel);
      report.missing.push(rel);
      return false;
    }
    return true;
  };

  for (const rel of REQUIRED_MODEL_FILES) await requireFile(rel);

  const vocab = (await fileSize(at('tokenizer/vocab.json'))) ?? 0;
  const merges = (await fileSize(at('tokenizer/merges.txt'))) ?? 0;
  const tokJson = (await fileSize(at('tokenizer/tokenizer.json'))) ?? 0;
  if (vocab > 0 && merges > 0) report.tokenizer = 'vocab+merges';
  else if (tokJson > 0) report.tokenizer = 'tokenizer.json';
  else {
    report.missing.push(
      vocab > 0 ? 'tokenizer/merges.txt (or tokenizer/tokenizer.json)' : merges > 0 ? 'tokenizer/vocab.json (or tokenizer/tokenizer.json)' : 'tokenizer/vocab.json+merges.txt or tokenizer/tokenizer.json',
    );
  }

  const vaeEnc = await fileSize(at('vae_encoder/model.onnx'));
  report.hasVaeEncoder = vaeEnc !== undefined && vaeEnc > 0;
  if (vaeEnc === 0) report.empty.push('vae_encoder/model.onnx');
  if (!report.hasVaeEncoder) report.warnings.push('no vae_encoder/model.onnx: image-to-latent features (inversion from an image init, img2img) are unavailable');
  const index = await fileSize(at('model_index.json'));
  report.hasModelIndex = index !== undefined && index > 0;
  if (index !== undefined) {
    const problem = await modelIndexProblem(at('model_index.json'), index);
    if (problem) {
      report.hasModelIndex = false;
      report.warnings.push(
        `${at('model_index.json')} ${problem}: ignored (it only names the pipeline's parts; the files themselves are checked). Copy it again from the same export to silence this warning.`,
      );
    }
  }

  for (const comp of COMPONENTS) {
    const modelPath = at(`${comp}/model.onnx`);
    const size = await fileSize(modelPath);
    if (!size) continue;
    const small = await readSmall(modelPath, SCAN_LIMIT_BYTES);
    let refs: string[];
    if (small) refs = externalDataLocations(small);
    else {
      // Too big to scan: a big model.onnx is normally self-contained; still accept a conventional sidecar.
      refs = [];
      for (const name of CONVENTIONAL_EXTERNAL) if ((await fileSize(at(`${comp}/${name}`))) !== undefined) refs.push(name);
    }
    const rels = refs.map((r) => `${comp}/${r}`);
    if (rels.length) report.externalData[comp] = rels;
    for (const rel of rels) {
      const norm = path.posix.normalize(rel);
      if (norm.startsWith('..') || path.isAbsolute(norm)) {
        report.warnings.push(`${comp}/model.onnx references external data outside its folder (${rel})`);
        continue;
      }
      const s = await fileSize(at(norm));
      if (s === undefined || s === 0) {
        if (s === 0) report.empty.push(norm);
        report.missing.push(`${norm} (external data of ${comp}/model.onnx)`);
      }
    }
    if (comp === 'unet') {
      report.unetExternalData = rels;
      if (small && rels.length === 0 && size < 50 * 1024 * 1024) {
        report.warnings.push(`unet/model.onnx is only ${size} bytes and references no external data: it is probably a test or demo UNet`);
      }
    }
  }

  for (const e of await listDir(root)) {
    if (e.name.endsWith('.part')) report.partial.push(e.name);
    else if (!KNOWN_TOP_LEVEL.has(e.name)) report.extra.push(e.isDirectory() ? `${e.name}/` : e.name);
  }
  for (const comp of [...COMPONENTS, 'tokenizer', 'scheduler'] as const) {
    const externals = new Set((report.externalData[comp as Component] ?? []).map((r) => path.posix.basename(r)));
    for (const e of await listDir(at(comp))) {
      const rel = `${comp}/${e.name}`;
      // A session model another live process is using right now (dead ones are swept on load).
      if (tempWriterPid(e.name) !== undefined) continue;
      if (e.name.endsWith('.part')) {
        report.partial.push(rel);
        continue;
      }
      const known =
        comp === 'tokenizer' ? KNOWN_TOKENIZER_FILES.has(e.name) : comp === 'scheduler' ? e.name === 'scheduler_config.json' : KNOWN_COMPONENT_FILES.has(e.name) || externals.has(e.name);
      if (!known) report.extra.push(e.isDirectory() ? `${rel}/` : rel);
    }
  }
  if (report.partial.length) report.warnings.push(`unfinished files (${report.partial.join(', ')}): an interrupted download or copy; finish or delete them`);

  report.missing = [...new Set(report.missing)];
  report.ok = report.missing.length === 0;
  return report;
}

/** Human-readable explanation of a failed report, saying what to do. */
export function describeModelFolderProblems(r: ModelFolderReport): string {
  const lines = [`${r.dir} is not a complete Stable Diffusion ONNX model folder.`];
  if (r.missing.length) lines.push(`Missing or empty: ${r.missing.join(', ')}.`);
  if (r.partial.length) lines.push(`Unfinished files: ${r.partial.join(', ')}.`);
  lines.push(
    'Expected the diffusers ONNX layout: text_encoder/model.onnx, unet/model.onnx (+ its weights.pb or model.onnx_data), ' +
      'vae_decoder/model.onnx, optional vae_encoder/model.onnx, tokenizer/vocab.json + merges.txt (or tokenizer.json), ' +
      'scheduler/scheduler_config.json, model_index.json. Point at the folder that contains these (not a parent or a subfolder), ' +
      'copy the missing files from the same export, or run `inversion-studio models download sd15`.',
  );
  return lines.join('\n');
}

/** Validates and throws EngineError('MODEL_FOLDER') naming the missing files when the folder is incomplete. */
export async function assertModelFolder(dir: string): Promise<ModelFolderReport> {
  const r = await validateModelFolder(dir);
  if (!r.ok) throw new EngineError('MODEL_FOLDER', describeModelFolderProblems(r));
  return r;
}
