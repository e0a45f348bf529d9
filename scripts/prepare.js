// Runs after `npm install`: builds the renderer so `npm start` and `inversion-studio serve`
// have a UI to serve. Skipped (with a message) when installed as a dependency without sources.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

if (!existsSync(new URL('../src/renderer/index.html', import.meta.url))) {
  console.log('[inversion-studio] no renderer sources; skipping web build');
} else {
  execSync('npm run build:web', { stdio: 'inherit' });
}
