/**
 * The shipped manifests live in `<repo>/models/*.json`. Packaged builds (or tests) point elsewhere with
 * INVERSION_STUDIO_MANIFESTS or an explicit `dir`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../errors.js';
import { parseManifest, type Manifest } from './manifest-schema.js';

export function defaultManifestDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.INVERSION_STUDIO_MANIFESTS) return path.resolve(env.INVERSION_STUDIO_MANIFESTS);
  // src/main/engine/models -> repo root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../models');
}

/** All `*.json` manifests of `dir`, sorted by id. Invalid ones throw (a broken shipped manifest is a bug). */
export async function loadManifests(dir: string = defaultManifestDir()): Promise<Manifest[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: Manifest[] = [];
  const ids = new Map<string, string>();
  for (const name of names) {
    const file = path.join(dir, name);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new EngineError('INVALID_ARGUMENT', `${file} is not valid JSON: ${(e as Error).message}`);
    }
    const m = parseManifest(json, file);
    const prev = ids.get(m.id);
    if (prev) throw new EngineError('INVALID_ARGUMENT', `manifest id '${m.id}' is defined twice (${prev} and ${file})`);
    ids.set(m.id, file);
    out.push(m);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** The manifest named `id`, or an error listing the known ids. */
export async function getManifest(id: string, dir: string = defaultManifestDir()): Promise<Manifest> {
  const all = await loadManifests(dir);
  const m = all.find((x) => x.id === id);
  if (!m) {
    const known = all.map((x) => x.id).join(', ') || '(none)';
    throw new EngineError('NOT_INSTALLED', `unknown model '${id}'. Known models: ${known}. A local folder can be added with \`inversion-studio models import DIR --name NAME\`.`);
  }
  return m;
}
