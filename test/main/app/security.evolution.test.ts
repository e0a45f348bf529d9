/** studio-image:// and evolution session images: exactly `evolution/<session>/images|thumbs/<file>.png`, inside the library. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveImageUrl } from '../../../src/main/app/security.js';
import { BAD_SESSION_NAMES } from '../host/evolution-paths.js';

const lib = path.resolve('/data/library');

describe('Electron glue: session images', () => {
  it('resolves a session image or thumbnail, encoded or not, and nothing else under evolution/', () => {
    const want = path.join(lib, 'evolution', 'evo-1', 'thumbs', 'g0-00.png');
    expect(resolveImageUrl(`studio-image://library/${encodeURIComponent('evolution/evo-1/thumbs/g0-00.png')}`, lib)).toBe(want);
    expect(resolveImageUrl('studio-image://library/evolution/evo-1/thumbs/g0-00.png', lib)).toBe(want);
    for (const bad of BAD_SESSION_NAMES) {
      expect(resolveImageUrl(`studio-image://library/${encodeURIComponent(bad)}`, lib), bad).toBeUndefined();
    }
    for (const bad of [
      'studio-image://library/evolution/evo-1/images/../../../index.json',
      'studio-image://library/evolution%2Fevo-1%2Fimages%2F..%2F..%2F..%2Findex.json',
      'studio-image://library/evolution/evo-1/session.json',
      'studio-image://library/evolution/evo-1/images/g0-00.png?x=1',
      'studio-image://other/evolution/evo-1/images/g0-00.png',
    ])
      expect(resolveImageUrl(bad, lib), bad).toBeUndefined();
  });
});
