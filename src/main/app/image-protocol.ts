/**
 * `studio-image://library/<file>`: library images for the renderer, served only from the library
 * folder and only by plain file name, or as an evolution session's image
 * `evolution/<session>/images|thumbs/<file>.png` (no other separators, no traversal, known image
 * extensions: resolveLibraryFile).
 */
import { net, protocol } from 'electron';
import { pathToFileURL } from 'node:url';
import { IMAGE_SCHEME, resolveImageUrl } from './security.js';

/** Must run before `app` is ready. */
export function registerImageScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: IMAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
  ]);
}

export function handleImageProtocol(libraryDir: () => string): void {
  protocol.handle(IMAGE_SCHEME, async (request) => {
    if (request.method !== 'GET') return new Response('method not allowed', { status: 405 });
    const file = resolveImageUrl(request.url, libraryDir());
    if (!file) return new Response('forbidden', { status: 403 });
    const res = await net.fetch(pathToFileURL(file).href).catch(() => undefined);
    if (!res || !res.ok) return new Response('not found', { status: 404 });
    return new Response(res.body, {
      status: 200,
      headers: {
        'Content-Type': res.headers.get('Content-Type') ?? 'image/png',
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'private, max-age=3600',
      },
    });
  });
}
