import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { AdamW, buildTrainingGraph, TrainStep } from '../../../../src/main/engine/training/index.js';
import { Seq2SeqStage } from '../../../../src/main/engine/e2t/seq2seq.js';
import { randomWeights, weightsFromMap } from '../../../../src/main/engine/e2t/vec2text-graphs.js';
import { buildStageTrainingModel } from '../../../../src/main/engine/e2t/vec2text-training.js';
import { writeVec2TextFolder } from '../../../../src/main/engine/e2t/vec2text-writer.js';
import { normals } from '../../../../src/main/engine/models/demo/prng.js';
import { TINY_WORDS, tempDir, tinyDims } from './tiny-vec2text.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('training a stage with our own autodiff, then running the exported graphs', () => {
  it('an inverter trained to map 8 vectors to 8 sentences decodes them exactly from the written folder (fp32 and fp16)', async () => {
    const B = 8;
    const T = 6;
    const din = 8;
    const dims = tinyDims(din, { dModel: 32, numHeads: 4, dFf: 64 });
    const V = dims.vocabSize;
    const fwd = buildStageTrainingModel('inverter', dims, randomWeights(1));
    const tg = buildTrainingGraph(fwd.model, {
      params: fwd.params,
      loss: 'loss',
      shapes: { embedding: [B, din], attention_mask: [B, dims.numRepeatTokens], decoder_input_ids: [B, T], labels: [B, T, V] },
    });
    const step = await TrainStep.create(tg, { threads: 1 });
    const emb = normals(3, 'e', B * din, 1);
    // Sentences of 2..5 word ids (3..14) + EOS (1), padded; different lengths exercise the label mask.
    const seqs = Array.from({ length: B }, (_, i) => [...Array.from({ length: 2 + (i % 4) }, (_, k) => 3 + ((i * 5 + k * 3) % 12)), 1]);
    const dec = new BigInt64Array(B * T);
    const lab = new Float32Array(B * T * V);
    seqs.forEach((s, i) => {
      const inp = [0, ...s];
      for (let t = 0; t < T; t++) {
        dec[i * T + t] = BigInt(inp[t] ?? 0);
        if (t < s.length) lab[(i * T + t) * V + s[t]!] = 1;
      }
    });
    const feeds = {
      embedding: new ort.Tensor('float32', emb, [B, din]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(B * dims.numRepeatTokens).fill(1n), [B, dims.numRepeatTokens]),
      decoder_input_ids: new ort.Tensor('int64', dec, [B, T]),
      labels: new ort.Tensor('float32', lab, [B, T, V]),
    };
    const adam = new AdamW(tg.params, { weightDecay: 0 });
    let first = 0;
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const r = await step.run(feeds, tg.params);
      if (i === 0) first = r.loss;
      last = r.loss;
      adam.step(tg.params, r.grads, 3e-3);
    }
    await step.release();
    expect(first).toBeGreaterThan(1);
    expect(last).toBeLessThan(0.05);

    const trained = new Map(tg.params.list.map((p) => [p.name, p.values]));
    for (const precision of ['float32', 'float16'] as const) {
      const dir = await tempDir();
      dirs.push(dir);
      await writeVec2TextFolder({
        dir,
        embedder: { dim: din, read: 'eos' },
        words: TINY_WORDS,
        inverter: { dims, weights: weightsFromMap(trained) },
        maxLength: T + 1,
        precision,
      });
      const stage = await Seq2SeqStage.open(dir, 'inverter', {
        numRepeatTokens: dims.numRepeatTokens,
        dModel: dims.dModel,
        numHeads: dims.numHeads,
        dKv: dims.dKv,
        numDecoderLayers: dims.numDecoderLayers,
        vocabSize: V,
        embedderDim: din,
      });
      try {
        const { embeds, mask } = await stage.project(emb, B);
        const out = await stage.generate(await stage.encode(embeds, mask), {
          startTokenId: 0,
          eosTokenId: 1,
          padTokenId: 0,
          maxLength: T + 1,
        });
        expect(out.map((s) => s[0]!.ids.slice(1))).toEqual(seqs);
      } finally {
        await stage.release();
      }
      if (precision === 'float16') {
        const size = (await stat(path.join(dir, 'inverter', 'decoder_model.onnx'))).size;
        const size32 = (await stat(path.join(dirs.at(-2)!, 'inverter', 'decoder_model.onnx'))).size;
        expect(size).toBeLessThan(0.75 * size32); // tiny tensors and the int64 bucket tables stay as they are
      }
    }
  });
});
