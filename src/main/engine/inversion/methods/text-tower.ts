/**
 * A CLIP-style text encoder made differentiable with respect to its input token embeddings, for
 * the baselines that optimise token embeddings (PH2P through the diffusion text encoder, PEZ
 * through CLIP's text tower). The token-embedding lookup is cut out (e2t/expose-embeddings.ts),
 * the graph is specialised to one prompt of `tokens` positions, and our autodiff adds the VJP.
 *
 * A prompt here is L token ids placed as [BOS, p1..pL, EOS, pad...], as PEZ's template; the
 * padding is the tokenizer's own (SD 1.5 pads with EOS, SD 2 with '!').
 */
import * as ort from 'onnxruntime-node';
import { buildVjp } from '../../autodiff/vjp.js';
import { EngineError } from '../../errors.js';
import { DataType, halfArrayToFloat32, viewRaw } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { tensorBytes } from '../../onnx/model-io.js';
import { specialise } from '../../onnx/specialise.js';
import { sessionFromModel } from '../../runtime/session-from-model.js';
import { floatTensor, idsTensor, tensorToFloat32 } from '../../runtime/tensors.js';
import { EMBEDS_INPUT, exposeInputEmbeddings } from '../../e2t/expose-embeddings.js';
import type { TokenizerLike } from '../../e2t/text-encoder-oracle.js';
import { ortFloatType } from '../ir-feeds.js';

/** A tokenizer that can also turn ids back into text (ClipTokenizer has `decode`). */
export type TowerTokenizer = TokenizerLike & { decode?(ids: ArrayLike<number>): string };

export interface TextTower {
  /** Positions of the encoder input (77) and the token-embedding width. */
  readonly tokens: number;
  readonly dim: number;
  /** The token-embedding table as float32, [vocabSize, dim]. */
  readonly table: Float32Array;
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Name and element count of the differentiated output (e.g. last_hidden_state 77·768, text_embeds 768). */
  readonly output: string;
  readonly outputSize: number;
  /** Full input ids for a prompt of token ids: [BOS, ...prompt, EOS, pad...]. */
  template(prompt: ArrayLike<number>): Int32Array;
  /** The output for full input ids (the encoder run as exported: the table lookup included). */
  forward(ids: Int32Array): Promise<Float32Array>;
  /**
   * d⟨output, cotangent⟩ / d(input embeddings) at the embeddings of `ids`: [tokens, dim]. Rows
   * of positions whose embedding was not changed still get their gradient (callers keep theirs).
   */
  inputGrad(ids: Int32Array, cotangent: Float32Array): Promise<Float32Array>;
  /** Text of prompt token ids (without BOS/EOS). */
  decode(prompt: ArrayLike<number>): string;
  release(): Promise<void>;
}

function decodeWith(tokenizer: TowerTokenizer, ids: ArrayLike<number>): string {
  if (tokenizer.decode) return tokenizer.decode(ids);
  let text = '';
  for (let i = 0; i < ids.length; i++) text += tokenizer.idToToken(ids[i]!) ?? '';
  return text.replaceAll('</w>', ' ').replace(/\s+/g, ' ').trim();
}

/**
 * @param model a CLIP-style text encoder (int ids input feeding a Gather on the token table)
 * @param o.output the output to differentiate (default `last_hidden_state`)
 * @throws EngineError('INVALID_MODEL') when the encoder has no token lookup or no such output
 */
export async function createTextTower(
  model: Model,
  tokenizer: TowerTokenizer,
  o: { output?: string; sessionOptions?: ort.InferenceSession.SessionOptions } = {},
): Promise<TextTower> {
  const output = o.output ?? 'last_hidden_state';
  const outInfo = model.graph.outputs.find((v) => v.name === output);
  if (!outInfo) {
    throw new EngineError(
      'INVALID_MODEL',
      `the text encoder has no output '${output}' (outputs: ${model.graph.outputs.map((v) => v.name).join(', ')})`,
    );
  }
  const probe = tokenizer.encode('');
  const tokens = probe.ids.length;
  if (probe.length !== 2 || tokens < 3)
    throw new EngineError('INVALID_MODEL', 'the tokenizer does not encode the empty text as BOS, EOS, padding');
  const bosId = probe.ids[0]!;
  const eosId = probe.ids[1]!;
  const padId = probe.ids[2]!;

  const exposed = exposeInputEmbeddings(model);
  const dim = exposed.table.dims[1]!;
  const vocabSize = exposed.table.dims[0]!;
  const raw = viewRaw(exposed.table.dtype, tensorBytes(exposed.table, model.baseDir));
  const table = exposed.table.dtype === DataType.FLOAT16 ? halfArrayToFloat32(raw as Uint16Array) : Float32Array.from(raw as Float32Array);
  const embedsType = ortFloatType(exposed.embedsDtype);
  const outType = ortFloatType(outInfo.dtype);
  const idsInfo = model.graph.inputs.find((v) => v.name === exposed.idsInput)!;
  const idsType = idsInfo.dtype === DataType.INT64 ? 'int64' : 'int32';

  const shapes: Record<string, number[]> = { [EMBEDS_INPUT]: [1, tokens, dim] };
  for (const inp of exposed.model.graph.inputs) if (inp.name !== EMBEDS_INPUT) shapes[inp.name] = [1, tokens];
  const spec = specialise(exposed.model, shapes);
  const outDims = (spec.graph.outputs.find((v) => v.name === output)?.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
  const outputSize = outDims.reduce((a, b) => a * b, 1);
  const vjp = buildVjp(spec, { wrt: [EMBEDS_INPUT], outputs: [output] });
  const cotName = vjp.cotangentInputs[output]!;
  const gradName = vjp.gradOutputs[EMBEDS_INPUT]!;

  // Other inputs (an attention_mask in some exports) see every position: CLIP attends causally, unmasked.
  const others = model.graph.inputs.filter((v) => v.name !== exposed.idsInput && !model.graph.initializers.has(v.name));
  const ones = (v: (typeof others)[number]) =>
    idsTensor(new Int32Array(tokens).fill(1), [1, tokens], v.dtype === DataType.INT64 ? 'int64' : 'int32');
  const fwdShapes: Record<string, number[]> = { [exposed.idsInput]: [1, tokens] };
  for (const v of others) fwdShapes[v.name] = [1, tokens];
  const forwardSession = await sessionFromModel(specialise(model, fwdShapes), o.sessionOptions);
  const vjpSession = await sessionFromModel(vjp.model, o.sessionOptions);
  const vjpNeedsIds = vjpSession.inputNames.includes(exposed.idsInput);
  const extraFeeds = (names: readonly string[]): Record<string, ort.Tensor> =>
    Object.fromEntries(others.filter((v) => names.includes(v.name)).map((v) => [v.name, ones(v)]));
  const maxPrompt = tokens - 2;

  return {
    tokens,
    dim,
    table,
    vocabSize,
    bosId,
    eosId,
    padId,
    output,
    outputSize,
    template(prompt) {
      if (prompt.length > maxPrompt)
        throw new EngineError('INVALID_ARGUMENT', `a prompt of ${prompt.length} tokens does not fit: at most ${maxPrompt}`);
      const ids = new Int32Array(tokens).fill(padId);
      ids[0] = bosId;
      for (let i = 0; i < prompt.length; i++) ids[i + 1] = prompt[i]!;
      ids[prompt.length + 1] = eosId;
      return ids;
    },
    async forward(ids) {
      const feeds = { [exposed.idsInput]: idsTensor(ids, [1, tokens], idsType), ...extraFeeds(forwardSession.inputNames) };
      const res = await forwardSession.run(feeds, [output]);
      return Float32Array.from(tensorToFloat32(res[output]!));
    },
    async inputGrad(ids, cotangent) {
      const embeds = new Float32Array(tokens * dim);
      for (let p = 0; p < tokens; p++) embeds.set(table.subarray(ids[p]! * dim, (ids[p]! + 1) * dim), p * dim);
      const feeds: Record<string, ort.Tensor> = {
        [EMBEDS_INPUT]: floatTensor(embeds, [1, tokens, dim], embedsType),
        [cotName]: floatTensor(cotangent, outDims, outType),
      };
      if (vjpNeedsIds) feeds[exposed.idsInput] = idsTensor(ids, [1, tokens], idsType);
      const res = await vjpSession.run({ ...feeds, ...extraFeeds(vjpSession.inputNames) }, [gradName]);
      return Float32Array.from(tensorToFloat32(res[gradName]!));
    },
    decode: (prompt) => decodeWith(tokenizer, prompt),
    async release() {
      await forwardSession.release();
      await vjpSession.release();
    },
  };
}
