/** The main window: isolated, sandboxed renderer with no Node, a strict CSP, and no navigation away. */
import { BrowserWindow, session, shell } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appContentSecurityPolicy } from './csp.js';
import { isAppUrl } from './security.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** electron-vite sets this in `dev`; otherwise the renderer is bundled to out/renderer. */
export const devServerUrl = process.env.ELECTRON_RENDERER_URL;
export const rendererIndex = path.join(here, '../renderer/index.html');

/** Is `url` one of the app's own pages (the only frames allowed to use the studio API)? */
export function isOwnPage(url: string): boolean {
  return isAppUrl(url, { devServerUrl, rendererIndex });
}

export function installSecurityHeaders(): void {
  const csp = appContentSecurityPolicy(devServerUrl);
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp], 'X-Content-Type-Options': ['nosniff'] } });
  });
  // No permission (camera, notifications, ...) is needed by the studio.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
}

export function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    title: 'Inversion Studio',
    show: false,
    backgroundColor: '#1e1e1e',
    webPreferences: {
      preload: path.join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // Links open in the system browser; the window itself never navigates away from the app.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event, url) => {
    if (!isOwnPage(url)) event.preventDefault();
  });
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());
  if (devServerUrl) void win.loadURL(devServerUrl);
  else void win.loadFile(rendererIndex);
  return win;
}
