/**
 * `inversion-studio serve`: the real UI and engine in a browser, over a loopback-only web bridge.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { safeWriteFile } from '../../main/engine/io/safe-write.js';
import { EngineHost } from '../../main/host/engine-host.js';
import { checkLibraryFolder } from '../../main/host/library.js';
import { formatNotice } from '../../main/host/notices.js';
import { nodeWorkerLauncher } from '../../main/host/node-worker.js';
import { defaultDataDir, libraryDirFor } from '../../main/host/paths.js';
import { FileSettingsStore } from '../../main/host/settings-store.js';
import { startWebBridge } from '../../main/host/web-bridge.js';
import { intOption, parseCommandArgs, usageError } from '../args.js';

export const summary = 'serve the studio UI and engine to a browser on 127.0.0.1 (web bridge)';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_PORT = 5170;

const HELP = `usage: inversion-studio serve [--port N] [--models demo|sd15|sd-turbo|DIR] [--library DIR] [--open]

Serves the Inversion Studio UI and engine at http://127.0.0.1:PORT/?token=… (loopback only).
The token is random per launch; the printed URL carries it.

options:
  --port N          port on 127.0.0.1 (default ${DEFAULT_PORT}; 0 = any free port)
  --models REF      model set to use and keep as the default (demo, a manifest name, or a folder)
  --library DIR     library folder for this session (default: <data dir>/library or the setting)
  --data DIR        settings and default library location (default: ${defaultDataDir()})
  --cache DIR       model cache folder (saved in the settings)
  --web DIR         built renderer to serve (default: out/web)
  --token-file FILE write the URL with the token to FILE (for scripts)
  --open            open the URL in the default browser
  -h, --help        this help

environment: INVERSION_STUDIO_TOKEN fixes the token (automation), INVERSION_STUDIO_HOME the data dir.`;

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    spawn(cmd, args, { detached: true, stdio: 'ignore' })
      .on('error', () => console.error(`could not open a browser; open ${url} yourself`))
      .unref();
  } catch {
    console.error(`could not open a browser; open ${url} yourself`);
  }
}

/** Build the renderer when it is missing and its sources are here; returns a note when it could not. */
function ensureWebBuild(webRoot: string): string | undefined {
  if (existsSync(path.join(webRoot, 'index.html'))) return undefined;
  if (!existsSync(path.join(REPO_ROOT, 'src/renderer/index.html')) || !existsSync(path.join(REPO_ROOT, 'vite.web.config.ts'))) {
    return `the UI is not built (${webRoot} has no index.html) and its sources are not here; the page will say so.`;
  }
  console.error('inversion-studio serve: building the UI (npm run build:web)…');
  const vite = path.join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--config', 'vite.web.config.ts', '--logLevel', 'warn'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0 || !existsSync(path.join(webRoot, 'index.html')))
    return 'building the UI failed; run `npm run build:web` to see why. The page will say the UI is not built.';
  return undefined;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('serve', HELP, argv, {
    port: { type: 'string' },
    models: { type: 'string' },
    library: { type: 'string' },
    data: { type: 'string' },
    cache: { type: 'string' },
    web: { type: 'string' },
    'token-file': { type: 'string' },
    open: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) return usageError('serve', HELP, `unexpected argument '${positionals[0]}'`);
  const port = intOption(values.port, '--port', 0, 65535) ?? DEFAULT_PORT;
  if (typeof port === 'string') return usageError('serve', HELP, port);
  const dataDir = path.resolve(values.data ?? defaultDataDir());
  const settings = new FileSettingsStore(path.join(dataDir, 'config.json'));
  for (const n of settings.notices()) console.error(`inversion-studio serve: ${formatNotice(n)}`);
  if (values.models) await settings.set({ modelSet: existsSync(values.models) ? path.resolve(values.models) : values.models });
  if (values.cache) await settings.set({ cacheDir: path.resolve(values.cache) });
  const libraryOverride = values.library ? path.resolve(values.library) : undefined;
  const webRoot = path.resolve(values.web ?? path.join(REPO_ROOT, 'out/web'));
  const note = ensureWebBuild(webRoot);
  if (note) console.error(`inversion-studio serve: ${note}`);

  // Refuse another program's folder (its index.json) before the engine touches it.
  await checkLibraryFolder(libraryOverride ?? libraryDirFor(settings.get().libraryDir, dataDir));
  const host = new EngineHost({
    launch: nodeWorkerLauncher(),
    settings,
    libraryDir: (s) => libraryOverride ?? libraryDirFor(s.libraryDir, dataDir),
    transport: 'web',
    // Settings notices were printed above; the library's come from the engine worker.
    onNotice: (n) => {
      if (n.source !== 'settings') console.error(`inversion-studio serve: ${formatNotice(n)}`);
    },
  });
  await host.start();
  let bridge;
  try {
    bridge = await startWebBridge({
      host,
      webRoot,
      port,
      ...(process.env.INVERSION_STUDIO_TOKEN ? { token: process.env.INVERSION_STUDIO_TOKEN } : {}),
    });
  } catch (e) {
    await host.stop();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      console.error(`inversion-studio serve: port ${port} is in use; pick another with --port N (0 = any free port)`);
      return 1;
    }
    throw e;
  }
  if (values['token-file']) await safeWriteFile(values['token-file'], `${bridge.url}\n`, { mode: 0o600, what: 'the token file' });
  console.log(`Inversion Studio is running at ${bridge.url}`);
  console.log(`library: ${host.libraryDir}   settings: ${settings.file}`);
  console.log('Only this machine can connect (127.0.0.1). Press Ctrl+C to stop.');
  if (values.open) openBrowser(bridge.url);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await bridge.close().catch(() => undefined);
      await host.stop().catch(() => undefined);
      resolve(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  });
}
