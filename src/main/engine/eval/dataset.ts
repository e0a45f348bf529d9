/**
 * Evaluation datasets: what is inverted and what its prompt was.
 *
 * - A folder of images with `prompts.jsonl` (one `{"image": "x.png", "prompt": "..."}` per line)
 *   or `prompts.csv` (a header with `image` and `prompt` columns). Image paths are relative to the
 *   folder. Rows without an image or a prompt are reported and left out; an image that is missing
 *   or unreadable fails only its own row, when it is loaded.
 * - `shapes:N[:SEED]`: N held-out scenes of the shapes world (never seen in training) with their
 *   prompts. The target is the scene as the world's exact renderer draws it, not an image the
 *   model set generated: the papers invert real photographs, and a rendered target keeps the
 *   truth exact (the checker reads it back perfectly), where a generated one would carry the
 *   generator's own mistakes into the reference.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { loadImage } from '../image/image-io.js';
import type { TargetImage } from '../inversion/invert.js';
import { heldOutScenes, imageToTensor, renderScene, sceneToPrompt, type Scene } from '../models/shapes/world/index.js';
import { parseCsv } from './csv.js';

export type DatasetSpec = { kind: 'folder'; dir: string } | { kind: 'shapes'; n: number; seed: number };

export interface DatasetItem {
  /** Stable id within the dataset (the image's relative path, or `shapes-<i>`). */
  id: string;
  /** The prompt the image was made from (the reference of the text metrics). */
  prompt: string;
  /** Absolute image path (folder datasets). */
  image?: string;
  /** The true scene (shapes datasets). */
  scene?: Scene;
  /** Placement seed of the renderer (shapes datasets). */
  renderSeed?: number;
}

export interface Dataset {
  /** 'shapes:100' or the folder's path. */
  name: string;
  kind: DatasetSpec['kind'];
  items: DatasetItem[];
  /** Rows left out at reading time, each with its line and why. */
  problems: string[];
}

/**
 * `shapes:N` or `shapes:N:SEED` (seed of the held-out draw, default 0), else a folder path.
 * @throws EngineError('INVALID_ARGUMENT') for a malformed `shapes:` spec
 */
export function parseDatasetSpec(arg: string): DatasetSpec {
  const m = /^shapes:(\d+)(?::(\d+))?$/.exec(arg);
  if (m) {
    const n = Number(m[1]);
    if (n < 1) throw new EngineError('INVALID_ARGUMENT', 'shapes:N needs N ≥ 1 scenes');
    return { kind: 'shapes', n, seed: Number(m[2] ?? 0) };
  }
  if (arg.startsWith('shapes:')) throw new EngineError('INVALID_ARGUMENT', `'${arg}' is not shapes:N or shapes:N:SEED (e.g. shapes:100)`);
  return { kind: 'folder', dir: path.resolve(arg) };
}

function rowsFromJsonl(text: string, file: string, problems: string[]): { image?: unknown; prompt?: unknown; line: number }[] {
  const out: { image?: unknown; prompt?: unknown; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      out.push({ image: v.image ?? v.file, prompt: v.prompt ?? v.text, line: i + 1 });
    } catch {
      problems.push(`${path.basename(file)} line ${i + 1}: not JSON`);
    }
  });
  return out;
}

function rowsFromCsv(text: string, file: string, problems: string[]): { image?: unknown; prompt?: unknown; line: number }[] {
  const rows = parseCsv(text);
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  const ci = header.indexOf('image') >= 0 ? header.indexOf('image') : header.indexOf('file');
  const pi = header.indexOf('prompt') >= 0 ? header.indexOf('prompt') : header.indexOf('text');
  if (ci < 0 || pi < 0) {
    problems.push(`${path.basename(file)}: the header needs 'image' and 'prompt' columns (has ${header.join(', ') || 'none'})`);
    return [];
  }
  return rows.slice(1).flatMap((r, i) => (r.every((f) => f.trim() === '') ? [] : [{ image: r[ci], prompt: r[pi], line: i + 2 }]));
}

async function readFolder(dir: string): Promise<Dataset> {
  const jsonl = path.join(dir, 'prompts.jsonl');
  const csv = path.join(dir, 'prompts.csv');
  const file = existsSync(jsonl) ? jsonl : existsSync(csv) ? csv : undefined;
  if (!existsSync(dir)) throw new EngineError('INVALID_ARGUMENT', `the dataset folder ${dir} does not exist (or give shapes:N)`);
  if (!file) throw new EngineError('INVALID_ARGUMENT', `${dir} has no prompts.jsonl or prompts.csv (one row per image: image, prompt)`);
  const problems: string[] = [];
  const text = await readFile(file, 'utf8');
  const rows = file === jsonl ? rowsFromJsonl(text, file, problems) : rowsFromCsv(text, file, problems);
  const items: DatasetItem[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const where = `${path.basename(file)} line ${r.line}`;
    if (typeof r.image !== 'string' || !r.image.trim()) {
      problems.push(`${where}: no image`);
      continue;
    }
    if (typeof r.prompt !== 'string' || !r.prompt.trim()) {
      problems.push(`${where}: no prompt for ${r.image}`);
      continue;
    }
    const id = r.image.trim();
    if (seen.has(id)) {
      problems.push(`${where}: ${id} is listed twice; the first row is used`);
      continue;
    }
    seen.add(id);
    items.push({ id, prompt: r.prompt.trim(), image: path.resolve(dir, id) });
  }
  return { name: dir, kind: 'folder', items, problems };
}

/** Read a dataset; `limit` keeps the first N items. */
export async function readDataset(spec: DatasetSpec, o: { limit?: number } = {}): Promise<Dataset> {
  const ds =
    spec.kind === 'folder'
      ? await readFolder(spec.dir)
      : {
          name: `shapes:${spec.n}${spec.seed ? `:${spec.seed}` : ''}`,
          kind: 'shapes' as const,
          items: heldOutScenes(spec.n, spec.seed).map((scene, i) => ({
            id: `shapes-${String(i).padStart(3, '0')}`,
            prompt: sceneToPrompt(scene),
            scene,
            renderSeed: i,
          })),
          problems: [],
        };
  if (o.limit !== undefined) ds.items = ds.items.slice(0, o.limit);
  return ds;
}

/**
 * The item's target image at `size`×`size` (CHW [-1, 1]): a folder image loaded and
 * centre-cropped, or the scene rendered.
 * @throws EngineError('IMAGE') when the image is missing or unreadable
 */
export async function loadTarget(item: DatasetItem, size: number): Promise<TargetImage> {
  if (item.scene) return { data: imageToTensor(renderScene(item.scene, { size, seed: item.renderSeed ?? 0 })), width: size, height: size };
  const img = await loadImage(item.image!, { width: size, height: size, fit: 'cover' });
  return { data: img.data, width: img.width, height: img.height };
}
