/**
 * Electron main process: glue only. The engine runs in a utility process supervised by
 * EngineHost; the renderer reaches it through the preload API and validated IPC.
 */
import { app, BrowserWindow, dialog } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineHost } from '../host/engine-host.js';
import { libraryDirFor } from '../host/paths.js';
import { utilityProcessLauncher } from './engine-process.js';
import { handleImageProtocol, registerImageScheme } from './image-protocol.js';
import { installIpc } from './ipc.js';
import { installMenu } from './menu.js';
import { ElectronSettingsStore } from './settings.js';
import { createMainWindow, installSecurityHeaders } from './window.js';

registerImageScheme();
app.setName('Inversion Studio');
if (!app.requestSingleInstanceLock()) app.quit();

let host: EngineHost | undefined;

async function startup(): Promise<void> {
  await app.whenReady();
  const settings = new ElectronSettingsStore();
  const dataDir = app.getPath('userData');
  // The engine finds the shipped model manifests through this (the bundle moved the code away from models/).
  // out/main/index.js -> the package root (the repo, or app.asar when packaged) holds models/.
  process.env.INVERSION_STUDIO_MANIFESTS ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
  host = new EngineHost({
    launch: utilityProcessLauncher(),
    settings,
    libraryDir: (s) => libraryDirFor(s.libraryDir, dataDir),
    transport: 'electron',
  });
  installSecurityHeaders();
  handleImageProtocol(() => host!.libraryDir);
  installIpc(host);
  installMenu({ library: () => host!.libraryDir, data: () => path.resolve(dataDir) });
  // The window opens at once; the UI shows "engine starting" until the engine reports ready.
  createMainWindow();
  host.start().catch((e) => dialog.showErrorBox('Inversion Studio', `The engine could not start: ${(e as Error).message}`));
}

app.on('second-instance', () => {
  const win = BrowserWindow.getAllWindows()[0];
  if (win) {
    if (win.isMinimized()) win.restore();
    win.focus();
  }
});
app.on('activate', () => {
  if (BrowserWindow.getAllWindows().length === 0) createMainWindow();
});
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
app.on('before-quit', () => {
  void host?.stop();
});

startup().catch((e) => {
  console.error(e);
  app.exit(1);
});
