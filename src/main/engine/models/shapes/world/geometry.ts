/**
 * Geometry of the shapes world: where each position is, how big each size is, how much the
 * renderer may jitter them, and the point-in-shape tests the renderer and checker share.
 *
 * All lengths are fractions of the image side, so one scene renders the same at any size. Every
 * shape fills (at least along one axis) an axis-aligned square box of side `extent`, centred on
 * the object's centre; that makes the box centre the position and the box side the size, whatever
 * the shape, which is what the checker measures.
 */
import { Stream } from '../../demo/prng.js';
import type { Position, Scene, Shape, Size } from './vocabulary.js';

/** Anchor centres (x, y) as fractions of the side; y grows downwards as in the image. */
export const ANCHORS: Readonly<Record<Position, readonly [number, number]>> = {
  left: [0.25, 0.5],
  right: [0.75, 0.5],
  top: [0.5, 0.25],
  bottom: [0.5, 0.75],
  center: [0.5, 0.5],
};

/** Box side of each size, as a fraction of the image side. */
export const EXTENT: Readonly<Record<Size, number>> = { small: 0.24, large: 0.42 };

/**
 * Jitter bounds: centres move by up to ±POSITION_JITTER of the side, box sides scale by up to
 * ±SIZE_JITTER. Chosen so two large objects at opposite positions keep a gap of at least
 * 2·(0.25 − 0.02 − 0.21·1.04) ≈ 0.023 of the side (1.5 px at 64 px) and stay inside the image.
 */
export const POSITION_JITTER = 0.02;
export const SIZE_JITTER = 0.04;

/** Half-width of the cross's arms relative to the half-extent (arms are a third of the box). */
export const CROSS_ARM = 1 / 3;

/**
 * True when the point (u, v) of the shape's own frame lies inside it. (u, v) ∈ [-1, 1]² spans the
 * shape's box, v pointing down. The triangle is isosceles, apex up, base along the box bottom.
 */
export function insideShape(shape: Shape, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return Math.abs(u) <= 1 && Math.abs(v) <= 1;
    case 'triangle':
      return v >= -1 && v <= 1 && Math.abs(u) <= (v + 1) / 2;
    case 'diamond':
      return Math.abs(u) + Math.abs(v) <= 1;
    case 'cross': {
      const au = Math.abs(u);
      const av = Math.abs(v);
      return (au <= 1 && av <= CROSS_ARM) || (au <= CROSS_ARM && av <= 1);
    }
  }
}

/** Where one object lands in a rendered image (fractions of the side). */
export interface Placement {
  /** Box centre x, y. */
  cx: number;
  cy: number;
  /** Box side. */
  extent: number;
}

/**
 * The jittered placement of each object of `scene` for a render seed. Deterministic in (scene,
 * seed): object i draws from its own stream, so adding an object never moves the others.
 * `jitter: false` puts every object exactly on its anchor at its nominal size.
 */
export function objectPlacements(scene: Scene, seed: number, jitter = true): Placement[] {
  return scene.objects.map((o, i) => {
    const [ax, ay] = ANCHORS[o.position];
    const nominal = EXTENT[o.size];
    if (!jitter) return { cx: ax, cy: ay, extent: nominal };
    const s = new Stream(seed, `shapes/placement/${i}`);
    const dx = (2 * s.uniform() - 1) * POSITION_JITTER;
    const dy = (2 * s.uniform() - 1) * POSITION_JITTER;
    const scale = 1 + (2 * s.uniform() - 1) * SIZE_JITTER;
    return { cx: ax + dx, cy: ay + dy, extent: nominal * scale };
  });
}
