/**
 * The shapes world's vocabulary: what a scene is made of, the words the grammar uses, and the
 * palette the renderer paints with and the checker reads back.
 *
 * Object colours and background colours are disjoint sets of words *and* far-apart RGB values
 * (the closest pair is ≥ 100 apart in RGB Euclidean distance), so a pixel's nearest palette entry
 * is unambiguous even after a small VAE or a diffusion model has blurred it.
 */

export const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross'] as const;
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'orange', 'purple', 'cyan'] as const;
export const SIZES = ['small', 'large'] as const;
export const POSITIONS = ['left', 'right', 'top', 'bottom', 'center'] as const;
export const BACKGROUNDS = ['gray', 'white', 'black', 'brown'] as const;

export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Size = (typeof SIZES)[number];
export type Position = (typeof POSITIONS)[number];
export type Background = (typeof BACKGROUNDS)[number];

/** One object of a scene. */
export interface ShapeObject {
  shape: Shape;
  colour: Colour;
  size: Size;
  position: Position;
}

/**
 * A scene: a plain background and one or two objects. With two objects they sit at opposite
 * positions (left+right or top+bottom); the array order is the order the caption names them in.
 */
export interface Scene {
  background: Background;
  objects: ShapeObject[];
}

/** Native image side of the shapes model set (pixels); the renderer accepts any square size. */
export const SHAPES_NATIVE_SIZE = 64;

/** An 8-bit RGB triple. */
export type Rgb = readonly [number, number, number];

/** Object colours (sRGB, 0–255). Saturated and spread over the hue circle. */
export const COLOUR_RGB: Readonly<Record<Colour, Rgb>> = {
  red: [220, 30, 35],
  green: [30, 175, 50],
  blue: [35, 65, 225],
  yellow: [245, 230, 40],
  orange: [245, 130, 10],
  purple: [145, 45, 200],
  cyan: [40, 215, 225],
};

/** Background colours (sRGB, 0–255): neutral or dark, so every object colour stands out. */
export const BACKGROUND_RGB: Readonly<Record<Background, Rgb>> = {
  gray: [128, 128, 128],
  white: [245, 245, 245],
  black: [15, 15, 15],
  brown: [105, 65, 35],
};

/** The phrase the grammar uses for each position. */
export const POSITION_PHRASE: Readonly<Record<Position, readonly [string, string, string]>> = {
  left: ['on', 'the', 'left'],
  right: ['on', 'the', 'right'],
  top: ['at', 'the', 'top'],
  bottom: ['at', 'the', 'bottom'],
  center: ['in', 'the', 'center'],
};

/** The position opposite to each one in a two-object scene (center has none). */
export const OPPOSITE: Readonly<Record<Position, Position | undefined>> = {
  left: 'right',
  right: 'left',
  top: 'bottom',
  bottom: 'top',
  center: undefined,
};

/** Every word the grammar uses, in first-use order (articles and glue words included). */
export const WORLD_VOCABULARY: readonly string[] = [
  ...new Set<string>([
    'a',
    ...SIZES,
    ...COLOURS,
    ...SHAPES,
    ...Object.values(POSITION_PHRASE).flat(),
    'and',
    ...BACKGROUNDS,
    'background',
  ]),
];

export const isShape = (w: string): w is Shape => (SHAPES as readonly string[]).includes(w);
export const isColour = (w: string): w is Colour => (COLOURS as readonly string[]).includes(w);
export const isSize = (w: string): w is Size => (SIZES as readonly string[]).includes(w);
export const isPosition = (w: string): w is Position => (POSITIONS as readonly string[]).includes(w);
export const isBackground = (w: string): w is Background => (BACKGROUNDS as readonly string[]).includes(w);
