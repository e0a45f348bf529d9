/**
 * Every name a message or an image travels under, in one place: the Electron IPC channel, the
 * custom image protocol of the Electron renderer, and the web bridge's URL paths. The preload,
 * the Electron main process, the web bridge and both clients read them from here.
 */

/** The one Electron IPC channel, both ways (renderer -> main: client messages; main -> renderer: server messages). */
export const IPC_CHANNEL = 'studio:message';

/** Custom protocol serving library images to the Electron renderer: `studio-image://library/<file>`. */
export const IMAGE_SCHEME = 'studio-image';
/** The only host of IMAGE_SCHEME URLs. */
export const IMAGE_HOST = 'library';

/** `studio-image://library/<file>` for a library file name. */
export function libraryImageUrl(file: string): string {
  return `${IMAGE_SCHEME}://${IMAGE_HOST}/${encodeURIComponent(file)}`;
}

/** Web bridge: the WebSocket carrying the protocol. */
export const WEB_SOCKET_PATH = '/api/ws';
/** Web bridge: liveness probe (JSON `{ ok, engine }`). */
export const WEB_HEALTH_PATH = '/api/health';
/** Web bridge: library images by plain file name, `/library/<file>`. */
export const WEB_LIBRARY_PREFIX = '/library/';
