/**
 * `inversion-studio models list|download|import|check`: the CLI face of the model manager.
 */
import { CancelledError } from '../../main/engine/errors.js';
import { listModels, resolveCacheDir, type ModelListing } from '../../main/engine/models/cache.js';
import { downloadModel, type ModelDownloadProgress } from '../../main/engine/models/downloader.js';
import { importModelFolder } from '../../main/engine/models/import.js';
import { MODEL_KINDS, manifestBytes, type ModelKind } from '../../main/engine/models/manifest-schema.js';
import { defaultManifestDir, getManifest, loadManifests } from '../../main/engine/models/shipped-manifests.js';
import { validateModelFolder } from '../../main/engine/models/model-folder.js';
import { numberOption, parseCommandArgs, usageError } from '../args.js';

export const summary = 'list, download or import models (list | download NAME | import DIR --name N | check DIR)';

const USAGE = `usage:
  inversion-studio models list [--json]
  inversion-studio models download NAME [--offline] [--proxy URL] [--endpoint URL] [--timeout SECONDS]
  inversion-studio models import DIR --name NAME [--link] [--kind KIND] [--force]
  inversion-studio models check DIR

common options:
  --cache DIR       model cache (default: INVERSION_STUDIO_CACHE, else the per-user cache folder)
  --manifests DIR   folder of model manifests (default: the shipped models/ folder)

environment: HF_ENDPOINT, HF_TOKEN, HTTPS_PROXY / HTTP_PROXY / NO_PROXY, INVERSION_STUDIO_OFFLINE=1,
INVERSION_STUDIO_CACHE.`;

/** Smallest --timeout (seconds): the option takes any positive time, down to a millisecond. */
const MIN_TIMEOUT_SECONDS = 0.001;

export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** One progress line: name, file, bytes, percent, rate, ETA. */
export function progressLine(e: ModelDownloadProgress): string {
  const parts = [`${e.modelId} [${e.fileIndex + 1}/${e.fileCount}] ${e.file}`];
  parts.push(e.total !== undefined ? `${fmtBytes(e.bytes)} / ${fmtBytes(e.total)}` : fmtBytes(e.bytes));
  if (e.total) parts.push(`${((100 * e.bytes) / e.total).toFixed(1)}%`);
  if (e.rate > 0) parts.push(`${fmtBytes(Math.round(e.rate))}/s`);
  if (e.etaSeconds !== undefined) parts.push(`ETA ${fmtDuration(e.etaSeconds)}`);
  return parts.join('  ');
}

/** Progress on stderr: rewritten in place on a terminal, one line every few seconds otherwise. */
function progressReporter(): { update(e: ModelDownloadProgress): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let lastLine = '';
  return {
    update(e) {
      const now = Date.now();
      const line = progressLine(e);
      lastLine = line;
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K`);
      } else if (now - last >= 5000) {
        last = now;
        process.stderr.write(`${line}\n`);
      }
    },
    done() {
      if (tty) process.stderr.write('\n');
      else if (lastLine) process.stderr.write(`${lastLine}\n`);
    },
  };
}

function statusLabel(m: ModelListing): string {
  if (m.status === 'installed') return m.linkedTo ? 'installed (linked)' : 'installed';
  if (m.status === 'partial') return 'partial (resumable)';
  if (m.status === 'broken-link') return 'broken link';
  return 'available';
}

async function cmdList(cacheDir: string, manifestsDir: string, json: boolean): Promise<number> {
  const manifests = await loadManifests(manifestsDir);
  const list = await listModels(cacheDir, manifests);
  if (json) {
    console.log(JSON.stringify({ cacheDir, models: list }, null, 2));
    return 0;
  }
  console.log(`cache: ${cacheDir}`);
  const rows = list.map((m) => [
    m.id,
    m.kind,
    statusLabel(m),
    m.status === 'available' ? (m.expectedBytes ? `~${fmtBytes(m.expectedBytes)}` : '?') : fmtBytes(m.bytesOnDisk),
    m.linkedTo ??
      (m.hubRepo ? `${m.hubRepo}@${m.revision && /^[0-9a-f]{40}$/.test(m.revision) ? m.revision.slice(0, 8) : m.revision}` : m.source),
  ]);
  const header = ['NAME', 'KIND', 'STATUS', 'SIZE', 'SOURCE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  return 0;
}

async function cmdDownload(
  name: string,
  cacheDir: string,
  manifestsDir: string,
  v: Record<string, string | boolean | undefined>,
): Promise<number> {
  // A bad value is bad usage (exit 2), found before the manifest is looked up.
  const timeout = numberOption(typeof v.timeout === 'string' ? v.timeout : undefined, '--timeout', MIN_TIMEOUT_SECONDS);
  if (typeof timeout === 'string') return usageError('models download', USAGE, timeout);
  const manifest = await getManifest(name, manifestsDir);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const progress = progressReporter();
  const size = manifestBytes(manifest);
  console.error(
    `downloading ${manifest.id}: ${manifest.hubRepo}@${manifest.revision} (${manifest.files.length} files, ${size.exact ? '' : '~'}${fmtBytes(size.bytes)}) into ${cacheDir}`,
  );
  try {
    const r = await downloadModel(manifest, cacheDir, {
      signal: ac.signal,
      onProgress: (e) => progress.update(e),
      offline: v.offline === true ? true : undefined,
      proxy: typeof v.proxy === 'string' ? v.proxy : undefined,
      endpoint: typeof v.endpoint === 'string' ? v.endpoint : undefined,
      timeoutMs: timeout !== undefined ? timeout * 1000 : undefined,
    });
    progress.done();
    if (r.alreadyInstalled) console.log(`${manifest.id} is already installed in ${r.dir}`);
    else console.log(`${manifest.id} installed in ${r.dir} (${fmtBytes(r.downloadedBytes)} downloaded, ${r.files.length} files verified)`);
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof CancelledError) {
      console.error(`inversion-studio models: download of ${manifest.id} cancelled; run the same command again to resume.`);
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function cmdImport(
  dir: string,
  cacheDir: string,
  manifestsDir: string,
  v: Record<string, string | boolean | undefined>,
): Promise<number> {
  if (typeof v.name !== 'string') {
    console.error(`inversion-studio models import: --name is required\n\n${USAGE}`);
    return 2;
  }
  let kind: ModelKind | undefined;
  if (typeof v.kind === 'string') {
    if (!(MODEL_KINDS as readonly string[]).includes(v.kind)) {
      console.error(`inversion-studio models import: --kind must be one of ${MODEL_KINDS.join(', ')}`);
      return 2;
    }
    kind = v.kind as ModelKind;
  }
  const manifests = await loadManifests(manifestsDir);
  const r = await importModelFolder(dir, {
    name: v.name,
    cacheDir,
    link: v.link === true,
    kind,
    manifests,
    overwrite: v.force === true,
    onProgress: (e) => {
      if (e.phase === 'copy' && process.stderr.isTTY)
        process.stderr.write(`\rcopying ${e.files}/${e.totalFiles} files  ${fmtBytes(e.bytes)} / ${fmtBytes(e.totalBytes)}\x1b[K`);
    },
  });
  if (process.stderr.isTTY && !r.linked) process.stderr.write('\n');
  for (const w of r.report?.warnings ?? []) console.error(`warning: ${w}`);
  if (r.report?.extra.length) console.error(`note: not part of the layout (ignored): ${r.report.extra.join(', ')}`);
  console.log(`${r.id} ${r.linked ? 'linked to' : 'imported from'} ${r.record.importedFrom} -> ${r.dir}`);
  return 0;
}

async function cmdCheck(dir: string): Promise<number> {
  const r = await validateModelFolder(dir);
  console.log(`${r.dir}: ${r.ok ? 'OK, complete Stable Diffusion ONNX folder' : 'INCOMPLETE'}`);
  if (r.missing.length) console.log(`missing: ${r.missing.join(', ')}`);
  if (r.tokenizer) console.log(`tokenizer: ${r.tokenizer}`);
  if (r.unetExternalData.length) console.log(`unet external data: ${r.unetExternalData.join(', ')}`);
  if (r.extra.length) console.log(`extra (ignored): ${r.extra.join(', ')}`);
  for (const w of r.warnings) console.log(`warning: ${w}`);
  return r.ok ? 0 : 1;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('models', USAGE, argv, {
    cache: { type: 'string' },
    manifests: { type: 'string' },
    json: { type: 'boolean' },
    offline: { type: 'boolean' },
    proxy: { type: 'string' },
    endpoint: { type: 'string' },
    timeout: { type: 'string' },
    name: { type: 'string' },
    link: { type: 'boolean' },
    kind: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals: pos } = parsed;
  const [sub, arg, ...rest] = pos;
  const cacheDir = resolveCacheDir(v.cache);
  const manifestsDir = v.manifests ?? defaultManifestDir();
  const need = (what: string): number => {
    console.error(`inversion-studio models ${sub}: ${what}\n\n${USAGE}`);
    return 2;
  };
  if (rest.length) return need(`unexpected argument '${rest[0]}'`);
  switch (sub) {
    case 'list':
      if (arg) return need(`unexpected argument '${arg}'`);
      return cmdList(cacheDir, manifestsDir, v.json === true);
    case 'download':
      if (!arg) return need('NAME is required (see `inversion-studio models list`)');
      return cmdDownload(arg, cacheDir, manifestsDir, v);
    case 'import':
      if (!arg) return need('DIR is required');
      return cmdImport(arg, cacheDir, manifestsDir, v);
    case 'check':
      if (!arg) return need('DIR is required');
      return cmdCheck(arg);
    case undefined:
      console.error(USAGE);
      return 2;
    default:
      return need(`unknown subcommand '${sub}'`);
  }
}
