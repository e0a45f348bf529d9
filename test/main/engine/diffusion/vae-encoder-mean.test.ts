import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { defaultOpset } from '../../../../src/main/engine/onnx/ir.js';
import { readModel, writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { writeDemoModelSet } from '../../../../src/main/engine/models/demo/index.js';
import { loadModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { encodeImage } from '../../../../src/main/engine/diffusion/vae.js';

// The public vae_encoder export returns mean + std * RandomNormalLike(mean). Rebuild the demo
// encoder in that form and check the loader turns it back into the deterministic mean.
describe('sampling vae_encoder exports', () => {
  let root: string;
  let plain: string;
  let sampling: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'is-vae-mean-'));
    plain = path.join(root, 'plain');
    sampling = path.join(root, 'sampling');
    await writeDemoModelSet(plain);
    await writeDemoModelSet(sampling);
    const file = path.join(sampling, 'vae_encoder', 'model.onnx');
    const enc = await readModel(file);
    const out = enc.graph.outputs[0]!;
    const producer = enc.graph.nodes.find((n) => n.outputs.includes(out.name))!;
    producer.outputs = producer.outputs.map((o) => (o === out.name ? 'mean' : o));
    const b = new GraphBuilder(enc.graph, defaultOpset(enc));
    const noise = b.op('RandomNormalLike', ['mean'], { dtype: 1 });
    b.opN('Add', ['mean', b.op('Mul', [noise, b.scalar(0.5)])], {}, { outputNames: [out.name] });
    await writeModel(enc, file);
  }, 120_000);
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('encodes to the mean, identically on every call', async () => {
    const image = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i / 50));
    const a = await loadModelSet(plain);
    const b = await loadModelSet(sampling);
    try {
      const ref = await encodeImage(a, image, 64, 64);
      const first = await encodeImage(b, image, 64, 64);
      const second = await encodeImage(b, image, 64, 64);
      expect(Array.from(first)).toEqual(Array.from(second));
      let maxErr = 0;
      for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i]! - first[i]!));
      expect(maxErr).toBeLessThan(1e-5);
    } finally {
      await a.release();
      await b.release();
    }
  });
});
