/** Content-Security-Policy of the app's pages (set as a response header on every renderer load). */
export function appContentSecurityPolicy(devServerUrl?: string): string {
  // The Vite dev server needs its HMR websocket and the React-refresh inline preamble; production gets neither.
  const dev = devServerUrl ? new URL(devServerUrl) : undefined;
  return [
    "default-src 'self'",
    dev ? "script-src 'self' 'unsafe-inline'" : "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: studio-image:",
    "font-src 'self' data:",
    dev ? `connect-src 'self' ws://${dev.host} ${dev.origin}` : "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
