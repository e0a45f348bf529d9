import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { EMBEDS_INPUT, exposeInputEmbeddings } from '../../../../src/main/engine/e2t/expose-embeddings.js';
import { buildTextEncoderModel } from '../../../../src/main/engine/models/demo/text-encoder.js';
import { DataType, halfArrayToFloat32, viewRaw } from '../../../../src/main/engine/onnx/dtype.js';
import { tensorBytes } from '../../../../src/main/engine/onnx/model-io.js';
import { sessionFromModel } from '../../../../src/main/engine/runtime/session-from-model.js';

describe('exposing the input embeddings of a text encoder', () => {
  it.each(['float32', 'float16'] as const)('%s-stored weights: feeding the looked-up rows reproduces the encoder', async (weights) => {
    const L = 8;
    const model = buildTextEncoderModel({ vocabSize: 40, hidden: 16, layers: 1, heads: 2, maxLength: L, seed: 3, weights });
    const exposed = exposeInputEmbeddings(model);
    // Half-stored weights are cast to float32 before the lookup: the graph reads float32 rows.
    expect(exposed.table.dtype).toBe(weights === 'float16' ? DataType.FLOAT16 : DataType.FLOAT);
    expect(exposed.embedsDtype).toBe(DataType.FLOAT);
    const raw = viewRaw(exposed.table.dtype, tensorBytes(exposed.table));
    const table = weights === 'float16' ? halfArrayToFloat32(raw as Uint16Array) : (raw as Float32Array);
    const ids = Int32Array.from([0, 5, 9, 1, 1, 1, 1, 1]);
    const rows = new Float32Array(L * 16);
    ids.forEach((id, p) => rows.set(table.subarray(id * 16, (id + 1) * 16), p * 16));
    const a = await sessionFromModel(model);
    const b = await sessionFromModel(exposed.model);
    try {
      const ya = (await a.run({ input_ids: new ort.Tensor('int32', ids, [1, L]) })).last_hidden_state!.data as Float32Array;
      const yb = (
        await b.run({
          input_ids: new ort.Tensor('int32', ids, [1, L]),
          [EMBEDS_INPUT]: new ort.Tensor('float32', rows, [1, L, 16]),
        })
      ).last_hidden_state!.data as Float32Array;
      for (let i = 0; i < ya.length; i++) expect(yb[i]!).toBeCloseTo(ya[i]!, 5);
    } finally {
      await a.release();
      await b.release();
    }
  });
});
