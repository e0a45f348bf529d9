#!/usr/bin/env node
// `npm start`: the desktop app (electron-vite builds main/preload/renderer, then starts Electron).
// The Electron binary is fetched on first start (Electron >= 42 downloads it lazily); where that
// fails, the same studio opens in the browser through the web bridge (`inversion-studio serve`).
//   npm start            desktop app (or the browser fallback above)
//   npm start -- --web   browser UI right away
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

/** Path of the Electron binary if it is already on disk (never triggers a download). */
function electronBinary() {
  const pkg = path.join(root, 'node_modules/electron');
  if (!existsSync(pkg)) return undefined;
  const pathFile = path.join(pkg, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : undefined;
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, rel || 'electron');
    return existsSync(p) ? p : undefined;
  }
  if (!rel) return undefined;
  const p = path.join(pkg, 'dist', rel);
  return existsSync(p) ? p : undefined;
}

function run(cmd, cmdArgs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1)));
    child.on('error', (e) => {
      console.error(e.message);
      resolve(1);
    });
  });
}

const serve = () =>
  run(process.execPath, [path.join(root, 'bin/inversion-studio.js'), 'serve', '--open', ...args.filter((a) => a !== '--web')]);

/**
 * Electron >= 42 fetches its binary on first use. Do that fetch here, visibly, so a failure
 * (offline, proxy) ends in the browser fallback instead of a stack trace.
 */
async function fetchElectron() {
  const installer = path.join(root, 'node_modules/electron/install.js');
  if (!existsSync(installer)) return false;
  console.error('Inversion Studio: downloading the Electron binary (first start only)...');
  return (await run(process.execPath, [installer])) === 0 && electronBinary() !== undefined;
}

async function main() {
  if (args.includes('--web')) return serve();
  if (electronBinary() || (await fetchElectron())) {
    return run(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'preview', ...args]);
  }
  console.error(
    [
      'Inversion Studio: the Electron binary could not be installed (no internet access, a proxy, or a',
      "Node.js older than Electron's installer needs: >= 22.12). Starting the same studio in your browser",
      'instead (`inversion-studio serve --open`, 127.0.0.1 only). To get the desktop app later, run',
      '`npx install-electron` where it can reach GitHub, then `npm start` again.',
    ].join('\n'),
  );
  return serve();
}

process.exitCode = await main();
