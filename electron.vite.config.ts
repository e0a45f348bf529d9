/**
 * electron-vite: main process (app glue + the engine worker run by utilityProcess), the sandboxed
 * preload (a single CommonJS file with its dependencies bundled, as sandboxed preloads require),
 * and the renderer (the same sources vite.web.config.ts builds for the web bridge).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: path.join(root, 'src/main/app/index.ts'),
          'engine-worker': path.join(root, 'src/main/host/engine-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      externalizeDeps: false,
      rollupOptions: {
        input: { index: path.join(root, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: path.join(root, 'src/renderer'),
    plugins: [react()],
    build: {
      outDir: 'out/renderer',
      target: 'chrome120',
      chunkSizeWarningLimit: 6000,
      rollupOptions: { input: path.join(root, 'src/renderer/index.html') },
    },
    worker: { format: 'es' },
  },
});
