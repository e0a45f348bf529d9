// Playwright global setup (and usable alone): rebuild the web renderer (out/web) when it is missing
// or older than its sources, so e2e never tests a stale UI.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (!e.name.endsWith('.test.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export default function ensureWebBuild() {
  const index = path.join(root, 'out/web/index.html');
  if (!existsSync(path.join(root, 'src/renderer/index.html'))) return;
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  const sources = Math.max(
    newest(path.join(root, 'src/renderer')),
    newest(path.join(root, 'src/shared')),
    statSync(path.join(root, 'vite.web.config.ts')).mtimeMs,
  );
  if (built >= sources) return;
  console.log('[e2e] building the web renderer (out/web is missing or stale)…');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.web.config.ts', '--logLevel', 'warn'],
    { cwd: root, stdio: 'inherit' },
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) ensureWebBuild();
