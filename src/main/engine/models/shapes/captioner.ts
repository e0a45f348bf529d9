/**
 * The world's captioner: image -> the slots of a caption in the grammar, one classification head
 * per slot on the shared CNN trunk (towers.ts), formatted with the grammar's `sceneToPrompt`.
 *
 * captioner/model.onnx: `pixel_values` float32 [B, 3, 64, 64] (CHW RGB in [-1, 1], the VAE's
 * convention) -> `logits` float32 [B, 39], the heads back to back:
 *
 *   background  4  gray white black brown
 *   layout      7  left right top bottom center (one object there) | left-right | top-bottom (two)
 *   object 0    5 shape + 7 colour + 2 size   the first object in reading order (left / top / the only one)
 *   object 1    5 shape + 7 colour + 2 size   the second object (right / bottom); unused with one object
 *
 * captioner/config.json lists the heads with offsets and labels (CAPTIONER_HEADS), so a loader
 * needs nothing else; `decodeCaptionerLogits` is the reference decoding.
 */
import { DataType } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { Net, type WeightPrecision } from '../demo/nn.js';
import { imageTrunk, type TrunkOptions } from './towers.js';
import { BACKGROUNDS, canonicalScene, COLOURS, SHAPES, SIZES, sceneToPrompt, type Position, type Scene, type ShapeObject } from './world/index.js';

export const LAYOUTS = ['left', 'right', 'top', 'bottom', 'center', 'left-right', 'top-bottom'] as const;
export type Layout = (typeof LAYOUTS)[number];

export interface CaptionerHead {
  name: string;
  offset: number;
  labels: readonly string[];
}

function heads(): CaptionerHead[] {
  const list: { name: string; labels: readonly string[] }[] = [
    { name: 'background', labels: BACKGROUNDS },
    { name: 'layout', labels: LAYOUTS },
    { name: 'object0.shape', labels: SHAPES },
    { name: 'object0.colour', labels: COLOURS },
    { name: 'object0.size', labels: SIZES },
    { name: 'object1.shape', labels: SHAPES },
    { name: 'object1.colour', labels: COLOURS },
    { name: 'object1.size', labels: SIZES },
  ];
  let off = 0;
  return list.map((h) => {
    const r = { ...h, offset: off };
    off += h.labels.length;
    return r;
  });
}

/** The heads of `logits`, in order. */
export const CAPTIONER_HEADS: readonly CaptionerHead[] = heads();
/** Width of `logits` (39). */
export const CAPTIONER_LOGITS = CAPTIONER_HEADS.reduce((a, h) => a + h.labels.length, 0);

function head(name: string): CaptionerHead {
  return CAPTIONER_HEADS.find((h) => h.name === name)!;
}

/** The layout class of a scene. */
export function layoutOf(scene: Scene): Layout {
  const c = canonicalScene(scene);
  if (c.objects.length === 1) return c.objects[0]!.position;
  return c.objects[0]!.position === 'left' ? 'left-right' : 'top-bottom';
}

/**
 * Training target of a scene: one-hot rows per head, concatenated ([39]); the second object's
 * heads are all zero for a one-object scene (they then add nothing to the cross-entropy).
 */
export function captionTarget(scene: Scene, out = new Float32Array(CAPTIONER_LOGITS), at = 0): Float32Array {
  const c = canonicalScene(scene);
  const set = (name: string, label: string): void => {
    const h = head(name);
    out[at + h.offset + h.labels.indexOf(label)] = 1;
  };
  set('background', c.background);
  set('layout', layoutOf(c));
  c.objects.forEach((o, k) => {
    set(`object${k}.shape`, o.shape);
    set(`object${k}.colour`, o.colour);
    set(`object${k}.size`, o.size);
  });
  return out;
}

export interface DecodedCaption {
  scene: Scene;
  /** `sceneToPrompt(scene)`: the caption in the grammar. */
  prompt: string;
  /** Softmax probability of the chosen label, per head used. */
  confidence: Record<string, number>;
}

/**
 * Reference decoding of one row of `logits` (39 values): argmax per head, the layout decides the
 * number and positions of objects.
 */
export function decodeCaptionerLogits(logits: ArrayLike<number>): DecodedCaption {
  const confidence: Record<string, number> = {};
  const pick = (name: string): string => {
    const h = head(name);
    let best = 0;
    let max = -Infinity;
    for (let i = 0; i < h.labels.length; i++) {
      if (logits[h.offset + i]! > max) {
        max = logits[h.offset + i]!;
        best = i;
      }
    }
    let z = 0;
    for (let i = 0; i < h.labels.length; i++) z += Math.exp(logits[h.offset + i]! - max);
    confidence[name] = 1 / z;
    return h.labels[best]!;
  };
  const background = pick('background') as Scene['background'];
  const layout = pick('layout') as Layout;
  const positions: Position[] = layout === 'left-right' ? ['left', 'right'] : layout === 'top-bottom' ? ['top', 'bottom'] : [layout];
  const objects: ShapeObject[] = positions.map((position, k) => ({
    shape: pick(`object${k}.shape`) as ShapeObject['shape'],
    colour: pick(`object${k}.colour`) as ShapeObject['colour'],
    size: pick(`object${k}.size`) as ShapeObject['size'],
    position,
  }));
  const scene: Scene = { background, objects };
  return { scene, prompt: sceneToPrompt(scene), confidence };
}

/** captioner/model.onnx (see the file comment). */
export function buildCaptionerModel(trunk: TrunkOptions, o: { weights?: WeightPrecision; seed?: number } = {}): Model {
  const net = new Net(o.seed ?? 1, o.weights ?? 'float32', 17, 'captioner');
  const x = net.b.addInput('pixel_values', DataType.FLOAT, ['batch', 3, 64, 64]);
  const feat = imageTrunk(net, x, 'trunk', trunk);
  const logits = net.linear(feat, 'heads', trunk.hidden, CAPTIONER_LOGITS);
  net.b.identity(logits, 'logits');
  net.b.addOutput('logits', DataType.FLOAT, ['batch', CAPTIONER_LOGITS]);
  net.model.producerName = 'inversion-studio-shapes';
  return net.model;
}

/** What captioner/config.json holds. */
export function captionerConfig(): Record<string, unknown> {
  return {
    model: 'shapes-captioner',
    input: { name: 'pixel_values', shape: ['batch', 3, 64, 64], layout: 'CHW RGB', range: [-1, 1], size: 64 },
    output: { name: 'logits', shape: ['batch', CAPTIONER_LOGITS] },
    heads: CAPTIONER_HEADS.map((h) => ({ name: h.name, offset: h.offset, size: h.labels.length, labels: h.labels })),
    decoding:
      'argmax per head; layout gives the objects: one object at left/right/top/bottom/center, or two at left+right / top+bottom; ' +
      'object0 is the first in reading order (left, top, or the only one), object1 the second; caption = sceneToPrompt(scene)',
  };
}
