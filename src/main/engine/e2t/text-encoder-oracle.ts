/**
 * TextEncoderOracle on onnxruntime: batched encoding with the model as exported, and a
 * forward+VJP model (built by our autodiff) w.r.t. the input token embeddings.
 */
import * as ort from 'onnxruntime-node';
import { buildVjp } from '../autodiff/vjp.js';
import { DataType, halfArrayToFloat32, viewRaw } from '../onnx/dtype.js';
import { floatTensor, idsTensor, tensorToFloat32 } from '../runtime/tensors.js';
import { ortFloatType } from '../inversion/ir-feeds.js';
import type { Model } from '../onnx/ir.js';
import { tensorBytes } from '../onnx/model-io.js';
import { sessionFromModel } from '../runtime/session-from-model.js';
import { specialise } from '../onnx/specialise.js';
import { EMBEDS_INPUT, exposeInputEmbeddings } from './expose-embeddings.js';
import type { EncodedText, TextEncoderOracle, WordToken } from './oracle.js';

export interface TokenizerLike {
  /** Ids padded to the encoder length, and the count incl. BOS/EOS. */
  encode(text: string): { ids: Int32Array; length: number };
  /** Size of the id space. */
  readonly vocabSize: number;
  /** Token string of an id (CLIP format: whole words end with `</w>`). */
  idToToken(id: number): string | undefined;
}

export interface OracleOptions {
  /** Output to match (default `last_hidden_state`). */
  output?: string;
  /** Session options (execution provider etc.). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Keep only words matching this (default: lowercase alphabetic words; of single letters only "a" and "i"). */
  wordFilter?: (word: string) => boolean;
  /** Batch size for encoding (default 32). */
  batch?: number;
}

/** Single-token whole words of a CLIP vocabulary (`cat</w>` → `cat`). */
export function wordTokens(
  tokenizer: Pick<TokenizerLike, 'vocabSize' | 'idToToken'>,
  filter: (w: string) => boolean = (w) => /^[a-z]{2,}$|^[ai]$/.test(w),
): WordToken[] {
  const out: WordToken[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const tok = tokenizer.idToToken(id);
    if (!tok?.endsWith('</w>')) continue;
    const word = tok.slice(0, -4);
    if (filter(word)) out.push({ id, word });
  }
  return out;
}

/** A [rows, tokens] ids tensor in the encoder's id type, via runtime/tensors' idsTensor. */
function batchIds(rows: Int32Array[], dtype: DataType, tokens: number): ort.Tensor {
  const flat = new Int32Array(rows.length * tokens);
  rows.forEach((row, i) => flat.set(row, i * tokens));
  return idsTensor(flat, [rows.length, tokens], dtype === DataType.INT64 ? 'int64' : 'int32');
}

/**
 * Build an oracle for a text-encoder model.
 * @param model the text encoder as read from disk (its `baseDir` resolves external data)
 */
export async function createTextEncoderOracle(
  model: Model,
  tokenizer: TokenizerLike,
  opts: OracleOptions = {},
): Promise<TextEncoderOracle & { release(): Promise<void> }> {
  const output = opts.output ?? 'last_hidden_state';
  const idsInfo = model.graph.inputs.find((i) => /input_ids/.test(i.name)) ?? model.graph.inputs[0]!;
  const probe = tokenizer.encode('');
  const tokens = probe.ids.length;
  const exposed = exposeInputEmbeddings(model);
  const dim = exposed.table.dims[1]!;
  const tableDtype = exposed.table.dtype;
  // What the graph computes in: a half-stored table may be cast to float32 before the lookup.
  const embedsType = ortFloatType(exposed.embedsDtype);
  const outputType = ortFloatType(model.graph.outputs.find((o) => o.name === output)?.dtype ?? exposed.embedsDtype);
  const rawTable = viewRaw(tableDtype, tensorBytes(exposed.table, model.baseDir));
  const table = tableDtype === DataType.FLOAT16 ? halfArrayToFloat32(rawTable as Uint16Array) : Float32Array.from(rawTable as Float32Array);

  const encSession = await sessionFromModel(model, opts.sessionOptions);

  const shapes: Record<string, number[]> = { [EMBEDS_INPUT]: [1, tokens, dim] };
  for (const inp of exposed.model.graph.inputs) if (inp.name !== EMBEDS_INPUT) shapes[inp.name] = [1, tokens];
  const spec = specialise(exposed.model, shapes);
  const vjp = buildVjp(spec, { wrt: [EMBEDS_INPUT], outputs: [output] });
  const vjpSession = await sessionFromModel(vjp.model, opts.sessionOptions);
  const cotName = vjp.cotangentInputs[output]!;
  const gradName = vjp.gradOutputs[EMBEDS_INPUT]!;
  const vjpInputs = new Set(vjpSession.inputNames);

  const words = wordTokens(tokenizer, opts.wordFilter);
  const batch = opts.batch ?? 32;

  const tokenEmbedding = (id: number): Float32Array => table.subarray(id * dim, (id + 1) * dim);

  return {
    tokens,
    dim,
    words,
    tokenEmbedding,
    async encode(texts: string[]): Promise<EncodedText[]> {
      const out: EncodedText[] = [];
      for (let s = 0; s < texts.length; s += batch) {
        const chunk = texts.slice(s, s + batch).map((t) => tokenizer.encode(t));
        const feeds: Record<string, ort.Tensor> = {
          [idsInfo.name]: batchIds(
            chunk.map((c) => c.ids),
            idsInfo.dtype,
            tokens,
          ),
        };
        const res = await encSession.run(feeds, [output]);
        const y = tensorToFloat32(res[output]!);
        chunk.forEach((c, i) => out.push({ embedding: y.slice(i * tokens * dim, (i + 1) * tokens * dim), length: c.length, ids: c.ids }));
      }
      return out;
    },
    async embeddingGrad(text: string, cotangent: Float32Array): Promise<Float32Array> {
      const { ids } = tokenizer.encode(text);
      const embeds = new Float32Array(tokens * dim);
      ids.forEach((id, p) => embeds.set(tokenEmbedding(id), p * dim));
      const feeds: Record<string, ort.Tensor> = {
        [EMBEDS_INPUT]: floatTensor(embeds, [1, tokens, dim], embedsType),
        [cotName]: floatTensor(cotangent, [1, tokens, dim], outputType),
      };
      if (vjpInputs.has(idsInfo.name)) feeds[idsInfo.name] = batchIds([ids], idsInfo.dtype, tokens);
      const res = await vjpSession.run(feeds, [gradName]);
      return Float32Array.from(tensorToFloat32(res[gradName]!));
    },
    async release() {
      await encSession.release();
      await vjpSession.release();
    },
  };
}
