/**
 * Preload (sandboxed): exposes exactly one object, `window.studio` (StudioApi), over a single IPC
 * channel. No ipcRenderer or Node API reaches the page.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { StudioApi } from '../shared/api.js';
import { createStudioApi } from '../shared/client.js';

const CHANNEL = 'studio:message';

const client = createStudioApi({
  kind: 'electron',
  post: (message) => ipcRenderer.send(CHANNEL, message),
  subscribe(handler) {
    const listener = (_event: IpcRendererEvent, message: unknown) => handler(message);
    ipcRenderer.on(CHANNEL, listener);
    return () => {
      ipcRenderer.removeListener(CHANNEL, listener);
    };
  },
  imageUrl: (file) => `studio-image://library/${encodeURIComponent(file)}`,
});

// Only the StudioApi surface; the client's internals (failPending, emitLocal) stay here.
const api: StudioApi = {
  transport: client.transport,
  request: (r) => client.request(r),
  generate: (p) => client.generate(p),
  invert: (p) => client.invert(p),
  cancel: (id) => client.cancel(id),
  listJobs: () => client.listJobs(),
  listLibrary: (p) => client.listLibrary(p),
  getLibraryItem: (id) => client.getLibraryItem(id),
  deleteLibraryItem: (id) => client.deleteLibraryItem(id),
  listModels: () => client.listModels(),
  downloadModel: (id) => client.downloadModel(id),
  importModel: (p) => client.importModel(p),
  getSettings: () => client.getSettings(),
  setSettings: (p) => client.setSettings(p),
  tokenize: (t, m) => client.tokenize(t, m),
  getStatus: () => client.getStatus(),
  onEvent: (l) => client.onEvent(l),
  imageUrl: (f) => client.imageUrl(f),
};

contextBridge.exposeInMainWorld('studio', api);
