/**
 * Wraps an exported UNet into the function the inversion differentiates: the guided noise
 * prediction
 *
 *   eps(x, cond) = eps_u + guidance * (eps_c - eps_u),   eps_u = UNet(x, t, uncond), eps_c = UNet(x, t, cond)
 *
 * evaluated as one batch-2 UNet call, with float32 at the boundary (fp16 exports get Casts
 * inside the graph, so the VJP runs in the model's dtype). Without guidance the wrapper is a
 * batch-1 call on `cond`.
 */
import { GraphBuilder } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { defaultOpset, type Model, type ValueInfo } from '../onnx/ir.js';
import { specialise } from '../onnx/specialise.js';
import { EngineError } from '../errors.js';

export interface GuidedUnetShape {
  /** Latent height and width (image size / 8). */
  latentHeight: number;
  latentWidth: number;
  /** Latent channels (4 for SD). */
  channels: number;
  /** Text tokens (77) and embedding width (768 for SD 1.x). */
  tokens: number;
  dim: number;
}

export interface GuidedUnet {
  model: Model;
  /** Element type the `t` input expects (int64, float32 or float16, as the export). */
  timestepType: DataType;
  cfg: boolean;
}

export const GUIDED_INPUTS = { x: 'x', cond: 'cond', uncond: 'uncond', t: 't', guidance: 'guidance' } as const;
export const GUIDED_OUTPUT = 'eps';

function findInput(inputs: ValueInfo[], pattern: RegExp, what: string): ValueInfo {
  const v = inputs.find((i) => pattern.test(i.name));
  if (!v) throw new EngineError('INVALID_MODEL', `the UNet has no ${what} input (inputs: ${inputs.map((i) => i.name).join(', ')})`);
  return v;
}

/**
 * @param unet the UNet as read from disk (external weights stay on disk)
 * @param cfg build the classifier-free-guidance form (batch 2) or the plain conditional form
 * @returns a statically specialised model with inputs x [1,C,h,w] f32, cond [1,T,D] f32,
 *   (uncond [1,T,D] f32, guidance [] f32 when cfg), t [1] (timestepType) and output eps [1,C,h,w] f32
 */
export function buildGuidedUnet(unet: Model, shape: GuidedUnetShape, cfg: boolean): GuidedUnet {
  const g0 = unet.graph;
  const sample = findInput(g0.inputs, /^sample$/, 'sample');
  const timestep = findInput(g0.inputs, /^timestep$/, 'timestep');
  const ehs = findInput(g0.inputs, /^encoder_hidden_states$/, 'encoder_hidden_states');
  const extra = g0.inputs.filter((i) => i !== sample && i !== timestep && i !== ehs && !g0.initializers.has(i.name));
  if (extra.length > 0) {
    throw new EngineError(
      'INVALID_MODEL',
      `inversion through this UNet is not supported: it has extra inputs ${extra.map((i) => i.name).join(', ')} (e.g. LCM's timestep_cond)`,
    );
  }
  const out = g0.outputs[0];
  if (!out) throw new EngineError('INVALID_MODEL', 'the UNet has no outputs');

  const graph = {
    ...g0,
    inputs: [] as ValueInfo[],
    outputs: [] as ValueInfo[],
    nodes: [...g0.nodes],
    initializers: new Map(g0.initializers),
    valueInfo: new Map<string, ValueInfo>(),
  };
  const model: Model = { ...unet, graph };
  const b = new GraphBuilder(graph, defaultOpset(unet), 'guided/');
  const unetNodes = graph.nodes.splice(0);
  const { latentHeight: h, latentWidth: w, channels: c, tokens, dim } = shape;
  const act = sample.dtype;

  const x = b.addInput(GUIDED_INPUTS.x, DataType.FLOAT, [1, c, h, w]);
  const cond = b.addInput(GUIDED_INPUTS.cond, DataType.FLOAT, [1, tokens, dim]);
  const uncond = cfg ? b.addInput(GUIDED_INPUTS.uncond, DataType.FLOAT, [1, tokens, dim]) : undefined;
  const t = b.addInput(GUIDED_INPUTS.t, timestep.dtype, [1]);
  const guidance = cfg ? b.addInput(GUIDED_INPUTS.guidance, DataType.FLOAT, []) : undefined;

  const toAct = (v: string, dtype: DataType, name: string): void => {
    if (dtype === DataType.FLOAT) b.identity(v, name);
    else b.opN('Cast', [v], { to: dtype }, { outputNames: [name] });
  };
  const xb = cfg ? b.op('Concat', [x, x], { axis: 0 }) : x;
  const eb = cfg ? b.op('Concat', [uncond!, cond], { axis: 0 }) : cond;
  toAct(xb, act, sample.name);
  toAct(eb, ehs.dtype, ehs.name);
  if (cfg) b.opN('Concat', [t, t], { axis: 0 }, { outputNames: [timestep.name] });
  else b.identity(t, timestep.name);

  graph.nodes.push(...unetNodes);

  const y = out.dtype === DataType.FLOAT ? out.name : b.cast(out.name, DataType.FLOAT);
  if (cfg) {
    const [eu, ec] = b.split(y, 0, [1, 1]) as [string, string];
    const diff = b.op('Sub', [ec, eu]);
    const scaled = b.op('Mul', [diff, guidance!]);
    b.opN('Add', [eu, scaled], {}, { outputNames: [GUIDED_OUTPUT] });
  } else {
    b.identity(y, GUIDED_OUTPUT);
  }
  b.addOutput(GUIDED_OUTPUT, DataType.FLOAT, [1, c, h, w]);

  const shapes: Record<string, number[]> = { x: [1, c, h, w], cond: [1, tokens, dim], t: [1] };
  if (cfg) {
    shapes.uncond = [1, tokens, dim];
    shapes.guidance = [];
  }
  return { model: specialise(model, shapes), timestepType: timestep.dtype, cfg };
}
