/**
 * Finds the StudioApi: `window.studio` when the preload exposed it (Electron), otherwise the web
 * bridge's WebSocket client (`inversion-studio serve`). The web client is H7's
 * src/shared/web-bridge-client.ts, so both shells speak exactly the same contract.
 */
import type { StudioApi } from '../../shared/api.js';
import { connectWebBridge } from '../../shared/web-bridge-client.js';

declare global {
  interface Window {
    studio?: StudioApi;
  }
}

export async function connectStudio(): Promise<StudioApi> {
  if (window.studio) return window.studio;
  return connectWebBridge();
}
