/**
 * Pure checks behind the Electron glue (no electron import, so they are unit-tested in Node):
 * which URLs are the app's own pages, and which studio-image URLs map to library files.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_HOST, IMAGE_SCHEME } from '../../shared/ipc/channels.js';
import { resolveLibraryFile } from '../host/library.js';

export { IMAGE_SCHEME };

/**
 * Is `url` the app's own page — the only frame allowed to talk to the engine?
 * In development that is the Vite dev server's origin; packaged, exactly the bundled index.html.
 */
export function isAppUrl(url: string, app: { devServerUrl?: string | undefined; rendererIndex: string }): boolean {
  try {
    const u = new URL(url);
    if (app.devServerUrl) return u.origin === new URL(app.devServerUrl).origin;
    return u.protocol === 'file:' && path.resolve(fileURLToPath(u)) === path.resolve(app.rendererIndex);
  } catch {
    return false;
  }
}

/** Resolve `studio-image://library/<file>` to a file in the library, or undefined when not allowed. */
export function resolveImageUrl(rawUrl: string, libraryDir: string): string | undefined {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== `${IMAGE_SCHEME}:` || url.hostname !== IMAGE_HOST || url.search || url.username || url.password || url.port)
    return undefined;
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  } catch {
    return undefined;
  }
  return resolveLibraryFile(libraryDir, name);
}
