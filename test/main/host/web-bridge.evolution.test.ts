/**
 * The web bridge's /library/ route and session images: `evolution/<session>/images|thumbs/<file>.png`
 * is served from the library folder (the Evolve view's grid and lineage tree load them), every
 * other spelling — traversal, session.json, embeddings, other folders — is refused. The bridge
 * runs over a stand-in host: only its library folder matters to this route.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineHost } from '../../../src/main/host/engine-host.js';
import { startWebBridge, type WebBridge } from '../../../src/main/host/web-bridge.js';
import { BAD_SESSION_NAMES } from './evolution-paths.js';

let bridge: WebBridge;
let root: string;

function get(pathname: string): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: bridge.port, path: pathname }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, ...(res.headers['content-type'] ? { type: res.headers['content-type'] } : {}) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'bridge-evo-'));
  const library = path.join(root, 'library');
  const session = path.join(library, 'evolution', 'evo-1');
  for (const sub of ['images', 'thumbs', 'embeddings']) mkdirSync(path.join(session, sub), { recursive: true });
  writeFileSync(path.join(session, 'images', 'g0-00.png'), 'IMAGE-g0-00');
  writeFileSync(path.join(session, 'thumbs', 'g0-00.png'), 'THUMB-g0-00');
  writeFileSync(path.join(session, 'embeddings', 'g0-00.f32'), 'secret-embedding');
  writeFileSync(path.join(session, 'session.json'), '{"secret": "session"}');
  writeFileSync(path.join(library, 'index.json'), '{"secret": "index"}');
  writeFileSync(path.join(root, 'secret.png'), 'secret-outside');
  const webRoot = path.join(root, 'web');
  mkdirSync(webRoot);
  writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>x</title>');
  const host = { libraryDir: library, engineState: 'ready', connect: () => ({ send() {}, close() {} }) } as unknown as EngineHost;
  bridge = await startWebBridge({ host, webRoot, port: 0 });
});

afterAll(async () => {
  await bridge?.close();
});

describe('web bridge: session images', () => {
  it('serves a session image and thumbnail by their library path (slashes encoded or not)', async () => {
    const t = `token=${bridge.token}`;
    for (const p of [
      `/library/evolution%2Fevo-1%2Fimages%2Fg0-00.png?${t}`,
      `/library/${encodeURIComponent('evolution/evo-1/images/g0-00.png')}?${t}`,
      `/library/evolution/evo-1/images/g0-00.png?${t}`,
    ]) {
      const r = await get(p);
      expect(r.status, p).toBe(200);
      expect(r.body).toBe('IMAGE-g0-00');
    }
    expect((await get(`/library/evolution/evo-1/thumbs/g0-00.png?${t}`)).body).toBe('THUMB-g0-00');
    expect((await get(`/library/evolution/evo-1/images/g0-01.png?${t}`)).status).toBe(404);
    expect((await get('/library/evolution/evo-1/images/g0-00.png')).status).toBe(401); // the token is still required
  });

  it('refuses every other name under evolution/ and every way out of the library', async () => {
    const t = `token=${bridge.token}`;
    const names = [
      ...BAD_SESSION_NAMES.filter((n) => !n.includes('\0')),
      'evolution/evo-1/session.json',
      'evolution/evo-1/embeddings/g0-00.f32',
      'evolution/evo-1/images/../session.json',
      'evolution/evo-1/images/../../../index.json',
      'evolution/evo-1/images/../../../../secret.png',
    ];
    for (const n of names) {
      for (const p of [`/library/${encodeURIComponent(n)}?${t}`, `/library/${n.replace(/\\/g, '%5C').replace(/ /g, '%20')}?${t}`]) {
        const r = await get(p);
        expect(r.status, p).toBeGreaterThanOrEqual(400);
        expect(r.body, p).not.toMatch(/secret|IMAGE|THUMB/);
      }
    }
    const nul = await get(`/library/evolution%2Fevo-1%2Fimages%2Fg0-00.png%00?${t}`);
    expect(nul.status).toBe(400);
  });
});
