import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AttentionCaptureError, findCrossAttention, layerNameOf } from '../../../../src/main/engine/attention/find-cross-attention.js';
import { readModel } from '../../../../src/main/engine/onnx/model-io.js';
import type { Model } from '../../../../src/main/engine/onnx/ir.js';
import { testDemoModelSet } from '../models/demo/demo-cache.js';
import { fixtureDir, fixtureFolders, haveFixture } from '../onnx/peer-fixtures.js';
import { tinyAttentionUnet } from './tiny-attention-unet.js';

function captureError(model: Model): AttentionCaptureError {
  try {
    findCrossAttention(model);
  } catch (e) {
    expect(e).toBeInstanceOf(AttentionCaptureError);
    return e as AttentionCaptureError;
  }
  throw new Error('findCrossAttention did not throw');
}

describe('findCrossAttention', () => {
  let demo: Model;
  beforeAll(async () => {
    demo = await readModel(path.join(await testDemoModelSet(), 'unet', 'model.onnx'));
  });

  it('finds the 7 attn2 Softmax nodes of the demo UNet (never attn1), in graph order with their stages', () => {
    const layers = findCrossAttention(demo);
    const attn1 = demo.graph.nodes.filter((n) => n.opType === 'Softmax' && n.name.includes('/attn1/'));
    expect(attn1.length).toBe(7);
    expect(layers.map((l) => l.node)).toEqual(
      demo.graph.nodes.filter((n) => n.opType === 'Softmax' && n.name.includes('/attn2/')).map((n) => n.name),
    );
    expect(layers.map((l) => [l.name, l.block])).toEqual([
      ['down_blocks.0.attentions.0.transformer_blocks.0.attn2', 'down'],
      ['down_blocks.1.attentions.0.transformer_blocks.0.attn2', 'down'],
      ['mid_block.attentions.0.transformer_blocks.0.attn2', 'mid'],
      ['up_blocks.1.attentions.0.transformer_blocks.0.attn2', 'up'],
      ['up_blocks.1.attentions.1.transformer_blocks.0.attn2', 'up'],
      ['up_blocks.2.attentions.0.transformer_blocks.0.attn2', 'up'],
      ['up_blocks.2.attentions.1.transformer_blocks.0.attn2', 'up'],
    ]);
    expect(layers.map((l) => l.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const l of layers) expect(l.probabilities).toBe(demo.graph.nodes.find((n) => n.name === l.node)!.outputs[0]);
  });

  describe.each(fixtureFolders)('PyTorch fixture %s', (folder) => {
    it.skipIf(!haveFixture(folder))('finds every attn2 Softmax and no attn1 one, with down/mid/up from graph order', async () => {
      const model = await readModel(path.join(fixtureDir(folder), 'unet.onnx'));
      const layers = findCrossAttention(model);
      const softmax = model.graph.nodes.filter((n) => n.opType === 'Softmax');
      const attn2 = softmax.filter((n) => /\/attn2(_\d+)?\//.test(n.name)).map((n) => n.name);
      expect(attn2.length).toBe(10);
      expect(softmax.length).toBe(20);
      expect(layers.map((l) => l.node)).toEqual(attn2);
      expect(layers.map((l) => l.block)).toEqual(['down', 'down', 'down', 'mid', 'up', 'up', 'up', 'up', 'up', 'up']);
      expect(new Set(layers.map((l) => l.name)).size).toBe(10);
    });
  });

  it.each(['heads', 'folded'] as const)('finds the cross- but not the self-attention of a small graph (%s layout)', (layout) => {
    const m = tinyAttentionUnet({ layout });
    const layers = findCrossAttention(m);
    expect(layers.map((l) => l.node)).toEqual(['/down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax']);
    expect(layers[0]!.block).toBe('down');
  });

  it('refuses fused attention that hides the probabilities, naming the node', () => {
    const e = captureError(tinyAttentionUnet({ variant: 'fused' }));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.nodes).toEqual(['/down_blocks.0/attentions.0/transformer_blocks.0/attn2/MultiHeadAttention']);
    expect(e.message).toContain('/down_blocks.0/attentions.0/transformer_blocks.0/attn2/MultiHeadAttention');
    expect(e.message).toMatch(/com\.microsoft MultiHeadAttention.*hide the attention probabilities/);
  });

  it('says so when a UNet has no cross-attention, or no text input', () => {
    const none = captureError(tinyAttentionUnet({ variant: 'none' }));
    expect(none.code).toBe('INVALID_MODEL');
    expect(none.message).toMatch(/no cross-attention found in the UNet/);
    const noText = captureError(tinyAttentionUnet({ variant: 'no-text' }));
    expect(noText.code).toBe('INVALID_MODEL');
    expect(noText.message).toMatch(/no 'encoder_hidden_states' input \(inputs: sample, timestep\)/);
  });

  it('refuses a cross-attention Softmax that normalises over the queries instead of the text', () => {
    const e = captureError(tinyAttentionUnet({ variant: 'query-softmax' }));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.nodes).toEqual(['/down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax']);
  });

  it('turns node scopes into layer names', () => {
    expect(layerNameOf('/up_blocks.3/attentions.2/transformer_blocks.0/attn2/Softmax')).toBe(
      'up_blocks.3.attentions.2.transformer_blocks.0.attn2',
    );
    expect(layerNameOf('/attn.0/block/attn2_1/Softmax')).toBe('attn.0.block.attn2_1');
  });
});
