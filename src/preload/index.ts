/**
 * Preload (sandboxed): exposes exactly one object, `window.studio` (StudioApi), over a single IPC
 * channel. No ipcRenderer or Node API reaches the page.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { STUDIO_API_KEYS, type StudioApi } from '../shared/api.js';
import { createStudioApi } from '../shared/client.js';
import { IPC_CHANNEL, libraryImageUrl } from '../shared/ipc/channels.js';

const client = createStudioApi({
  kind: 'electron',
  post: (message) => ipcRenderer.send(IPC_CHANNEL, message),
  subscribe(handler) {
    const listener = (_event: IpcRendererEvent, message: unknown) => handler(message);
    ipcRenderer.on(IPC_CHANNEL, listener);
    return () => {
      ipcRenderer.removeListener(IPC_CHANNEL, listener);
    };
  },
  imageUrl: libraryImageUrl,
});

// Only the StudioApi surface; the client's internals (failPending, emitLocal) stay here.
const api = Object.fromEntries(STUDIO_API_KEYS.map((key) => [key, client[key]])) as unknown as StudioApi;

contextBridge.exposeInMainWorld('studio', api);
