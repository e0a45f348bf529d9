import { describe, expect, it } from 'vitest';
import { CAPTIONER_HEADS, CAPTIONER_LOGITS, captionTarget, captionerConfig, decodeCaptionerLogits, layoutOf } from '../../../../../src/main/engine/models/shapes/captioner.js';
import { canonicalScene, sampleScene, sceneToPrompt, type Scene } from '../../../../../src/main/engine/models/shapes/world/index.js';
import { RandomStream } from '../../../../../src/main/engine/training/random.js';

describe('captioner label layout', () => {
  it('has 39 logits in 8 heads, as captioner/config.json says', () => {
    expect(CAPTIONER_LOGITS).toBe(39);
    const cfg = captionerConfig() as { heads: { name: string; offset: number; size: number; labels: string[] }[] };
    expect(cfg.heads.map((h) => h.name)).toEqual(CAPTIONER_HEADS.map((h) => h.name));
    expect(cfg.heads.at(-1)!.offset + cfg.heads.at(-1)!.size).toBe(39);
  });

  it('decodes a scene target back to its canonical caption (one and two objects, every layout)', () => {
    const rng = new RandomStream(3);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const scene: Scene = sampleScene(rng);
      seen.add(layoutOf(scene));
      const logits = captionTarget(scene).map((v) => (v ? 5 : 0));
      expect(decodeCaptionerLogits(logits).prompt).toBe(sceneToPrompt(canonicalScene(scene)));
    }
    expect(seen.size).toBe(7);
  });

  it("leaves the second object's heads empty for one object", () => {
    const t = captionTarget({ background: 'gray', objects: [{ shape: 'circle', colour: 'red', size: 'large', position: 'left' }] });
    const second = CAPTIONER_HEADS.filter((h) => h.name.startsWith('object1'));
    for (const h of second) for (let i = 0; i < h.labels.length; i++) expect(t[h.offset + i]).toBe(0);
    expect(t.reduce((a, v) => a + v, 0)).toBe(5);
  });
});
