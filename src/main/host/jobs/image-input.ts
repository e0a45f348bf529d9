/**
 * The image a job request names (ipc ImageInput): uploaded bytes (a `data:` URL), or an image of
 * a library item: its own image, or another of its files (an inversion's target, a candidate's
 * regeneration, an edit's before image). Shared by the invert, segment and edit jobs.
 */
import { readFile } from 'node:fs/promises';
import { EngineError } from '../../engine/errors.js';
import type { LibraryItem } from '../../../shared/ipc/library.js';
import { MAX_IMAGE_BYTES } from '../../../shared/ipc/limits.js';
import type { ImageInput } from '../../../shared/ipc/requests.js';
import type { Library } from '../library.js';

export interface ResolvedImage {
  bytes: Buffer;
  /** The library item, for a library input. */
  item?: LibraryItem;
  /** The library file read (the item's own `file` unless the input named another). */
  file?: string;
}

/** Every image file of a library item. */
export function itemFiles(item: LibraryItem): string[] {
  if (item.kind === 'generation') return item.edit ? [item.file, item.edit.sourceFile] : [item.file];
  return [item.file, item.inversion.targetFile, ...item.inversion.candidates.flatMap((c) => (c.file ? [c.file] : []))];
}

/**
 * Read the image of `input`.
 * @throws EngineError IMAGE for an empty or oversized upload; INVALID_ARGUMENT for an unknown
 *   item or a file that is not one of the item's
 */
export async function readImageInput(input: ImageInput, library: Library): Promise<ResolvedImage> {
  if (input.source === 'data') {
    const b64 = input.dataUrl.slice(input.dataUrl.indexOf(',') + 1);
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.byteLength === 0) throw new EngineError('IMAGE', 'the image is empty (0 bytes)');
    if (bytes.byteLength > MAX_IMAGE_BYTES) throw new EngineError('IMAGE', 'the image is larger than 50 MB');
    return { bytes };
  }
  const item = await library.get(input.id);
  if (!item) throw new EngineError('INVALID_ARGUMENT', `no library item '${input.id}'`);
  const name = input.file ?? item.file;
  if (!itemFiles(item).includes(name)) throw new EngineError('INVALID_ARGUMENT', `'${name}' is not an image of library item '${item.id}'`);
  const file = library.filePath(name);
  if (!file) throw new EngineError('INVALID_ARGUMENT', `library item '${item.id}' has no image '${name}'`);
  return { bytes: await readFile(file), item, file: name };
}
