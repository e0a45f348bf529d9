import { IMAGE_SCHEME } from '../../shared/ipc/channels.js';
import { rendererContentSecurityPolicy } from '../host/csp.js';

/** Content-Security-Policy of the app's pages (set as a response header on every renderer load). */
export function appContentSecurityPolicy(devServerUrl?: string): string {
  // The Vite dev server needs its HMR websocket and the React-refresh inline preamble; production gets neither.
  const dev = devServerUrl ? new URL(devServerUrl) : undefined;
  return rendererContentSecurityPolicy({
    inlineScripts: dev !== undefined,
    images: [`${IMAGE_SCHEME}:`],
    ...(dev ? { connect: [`ws://${dev.host}`, dev.origin] } : {}),
  });
}
