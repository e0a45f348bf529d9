/**
 * Renderer build for the web bridge (`inversion-studio serve` serves out/web). Same sources as the
 * Electron renderer (src/renderer); relative base so the bundle works under any origin.
 */
import react from '@vitejs/plugin-react';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(root, 'src/renderer'),
  base: './',
  plugins: [react()],
  publicDir: false,
  build: {
    outDir: path.join(root, 'out/web'),
    emptyOutDir: true,
    target: 'chrome120',
    sourcemap: true,
    // Monaco is large by nature; it is bundled (no CDN), so its chunk size is expected.
    chunkSizeWarningLimit: 6000,
  },
  worker: { format: 'es' },
});
