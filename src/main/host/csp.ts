/**
 * The renderer's Content-Security-Policy, one definition for both ways the UI is served (the
 * Electron window and the web bridge): our own scripts only, inline styles and blob: workers for
 * Monaco, no objects, frames, forms or base URI; what differs is passed in.
 */
export interface RendererCspOptions {
  /** Extra connect-src sources (websockets of the web bridge or the Vite dev server). */
  connect?: string[];
  /** Extra img-src sources (the Electron library protocol). */
  images?: string[];
  /** Inline scripts (only the Vite dev server's React-refresh preamble needs them). */
  inlineScripts?: boolean;
}

export function rendererContentSecurityPolicy(o: RendererCspOptions = {}): string {
  return [
    "default-src 'self'",
    o.inlineScripts ? "script-src 'self' 'unsafe-inline'" : "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    ["img-src 'self' data: blob:", ...(o.images ?? [])].join(' '),
    "font-src 'self' data:",
    ["connect-src 'self'", ...(o.connect ?? [])].join(' '),
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
