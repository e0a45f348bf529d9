import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { appContentSecurityPolicy } from '../../../src/main/app/csp.js';
import { isAppUrl, resolveImageUrl } from '../../../src/main/app/security.js';

const lib = path.resolve('/data/library');

describe('Electron glue: pure security checks', () => {
  it('studio-image:// resolves only plain file names inside the library', () => {
    expect(resolveImageUrl('studio-image://library/abc.png', lib)).toBe(path.join(lib, 'abc.png'));
    expect(resolveImageUrl('studio-image://library/a%20b.png', lib)).toBeUndefined(); // spaces are not in library names
    for (const bad of [
      'studio-image://library/..%2F..%2Fetc%2Fpasswd',
      'studio-image://library/%2e%2e%2fsecret.png',
      'studio-image://library/sub/x.png',
      'studio-image://library/index.json',
      'studio-image://other/abc.png',
      'studio-image://library/abc.png?x=1',
      'studio-image://user:pw@library/abc.png',
      'file:///data/library/abc.png',
      'https://library/abc.png',
      'studio-image://library/',
      'not a url',
    ]) {
      expect(resolveImageUrl(bad, lib), bad).toBeUndefined();
    }
  });

  it('only the bundled page (or the dev server origin) counts as the app', () => {
    const index = path.resolve('/app/out/renderer/index.html');
    const app = { rendererIndex: index };
    expect(isAppUrl(pathToFileURL(index).href, app)).toBe(true);
    expect(isAppUrl(`${pathToFileURL(index).href}#/library`, app)).toBe(true);
    expect(isAppUrl(pathToFileURL('/app/out/renderer/other.html').href, app)).toBe(false);
    expect(isAppUrl(pathToFileURL('/tmp/evil/index.html').href, app)).toBe(false);
    expect(isAppUrl('https://example.com/', app)).toBe(false);
    expect(isAppUrl('about:blank', app)).toBe(false);
    const dev = { rendererIndex: index, devServerUrl: 'http://localhost:5173/' };
    expect(isAppUrl('http://localhost:5173/#/prompt', dev)).toBe(true);
    expect(isAppUrl('http://localhost:5174/', dev)).toBe(false);
  });

  it('CSP: no inline or remote scripts in production; library images allowed', () => {
    const csp = appContentSecurityPolicy();
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain('img-src');
    expect(csp).toMatch(/img-src[^;]*studio-image:/);
    expect(csp).toContain("object-src 'none'");
    expect(appContentSecurityPolicy('http://localhost:5173')).toContain('ws://localhost:5173');
  });
});
