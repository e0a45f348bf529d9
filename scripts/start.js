#!/usr/bin/env node
// `npm start`: the desktop app (electron-vite builds main/preload/renderer, then starts Electron).
// The Electron binary is fetched lazily by the `electron` package on first use; where it is missing
// and cannot be downloaded, say so and offer the same UI in a browser (`inversion-studio serve`).
//   npm start            desktop app (or the offer above)
//   npm start -- --web   browser UI right away
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
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

const serve = () => run(process.execPath, [path.join(root, 'bin/inversion-studio.js'), 'serve', '--open', ...args.filter((a) => a !== '--web')]);

async function main() {
  if (args.includes('--web')) return serve();
  if (electronBinary()) {
    return run(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'preview', ...args]);
  }
  console.error(
    [
      'Inversion Studio: the Electron binary is not installed (node_modules/electron/dist is missing).',
      '',
      '  - To get it, run `npx install-electron` (downloads Electron from GitHub; needs internet access),',
      '    then `npm start` again.',
      '  - Or use the same studio in your browser: `npx inversion-studio serve --open`',
      '    (or `npm start -- --web`). It serves the UI on 127.0.0.1 only.',
    ].join('\n'),
  );
  if (process.stdin.isTTY && process.stdout.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = (await rl.question('\nStart the browser version now? [Y/n] ')).trim().toLowerCase();
    rl.close();
    if (answer === '' || answer === 'y' || answer === 'yes') return serve();
  }
  return 1;
}

process.exitCode = await main();
