/**
 * Minimal PNG chunk reader/writer for text metadata. We write the chunks ourselves (rather than via
 * sharp's metadata options) so the bytes are under our control: deterministic output, the exact
 * keywords A1111-compatible readers look for, and UTF-8 via iTXt when Latin-1 cannot hold the text.
 */
import { inflateSync } from 'node:zlib';
import { EngineError } from '../errors.js';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309 / PNG) of `data`. */
export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface PngChunk {
  type: string;
  data: Buffer;
  /** Byte offset of the chunk's length field in the file. */
  offset: number;
}

export function isPng(buf: Uint8Array): boolean {
  return buf.length >= 8 && Buffer.from(buf.buffer, buf.byteOffset, 8).equals(PNG_SIGNATURE);
}

/** All chunks in order; throws EngineError('IMAGE') on a bad signature, truncation or CRC mismatch. */
export function readPngChunks(input: Uint8Array): PngChunk[] {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!isPng(buf)) throw new EngineError('IMAGE', 'not a PNG file (bad signature)');
  const chunks: PngChunk[] = [];
  let pos = 8;
  while (pos < buf.length) {
    if (pos + 12 > buf.length) throw new EngineError('IMAGE', `PNG is truncated at byte ${pos}`);
    const len = buf.readUInt32BE(pos);
    const end = pos + 12 + len;
    if (len > 0x7fffffff || end > buf.length) throw new EngineError('IMAGE', `PNG is truncated: chunk at byte ${pos} claims ${len} bytes`);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new EngineError('IMAGE', `PNG is corrupt: invalid chunk type at byte ${pos}`);
    const crc = buf.readUInt32BE(pos + 8 + len);
    if (crc !== crc32(buf, pos + 4, pos + 8 + len))
      throw new EngineError('IMAGE', `PNG is corrupt: CRC mismatch in ${type} chunk at byte ${pos}`);
    chunks.push({ type, data: buf.subarray(pos + 8, pos + 8 + len), offset: pos });
    pos = end;
    if (type === 'IEND') break;
  }
  if (chunks[chunks.length - 1]?.type !== 'IEND') throw new EngineError('IMAGE', 'PNG is truncated: no IEND chunk');
  return chunks;
}

export function encodeChunk(type: string, data: Uint8Array): Buffer {
  if (!/^[A-Za-z]{4}$/.test(type)) throw new EngineError('INVALID_ARGUMENT', `invalid PNG chunk type '${type}'`);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

function checkKeyword(key: string): void {
  // PNG keywords: 1-79 Latin-1 printable characters, no leading/trailing/double spaces.
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(key) || key.startsWith(' ') || key.endsWith(' ') || key.includes('  ')) {
    throw new EngineError('INVALID_ARGUMENT', `invalid PNG text keyword '${key}'`);
  }
}

function isLatin1(text: string): boolean {
  // tEXt is Latin-1 without NUL; anything else goes to iTXt (UTF-8).
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0xff) return false;
  }
  return true;
}

/** A tEXt chunk when `text` fits Latin-1, else an uncompressed iTXt chunk (UTF-8). */
export function textChunk(key: string, text: string): Buffer {
  checkKeyword(key);
  if (isLatin1(text))
    return encodeChunk('tEXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]));
  return itxtChunk(key, text);
}

/** An uncompressed iTXt chunk: keyword, flags 0/0, empty language tag and translated keyword, UTF-8 text. */
export function itxtChunk(key: string, text: string): Buffer {
  checkKeyword(key);
  return encodeChunk('iTXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]));
}

/** Decodes tEXt / zTXt / iTXt chunks into keyword → text (first occurrence wins). */
export function readPngText(input: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of readPngChunks(input)) {
    const nul = c.data.indexOf(0);
    if (nul <= 0) continue;
    const key = c.data.toString('latin1', 0, nul);
    if (key in out) continue;
    try {
      if (c.type === 'tEXt') out[key] = c.data.toString('latin1', nul + 1);
      else if (c.type === 'zTXt') out[key] = inflateSync(c.data.subarray(nul + 2)).toString('latin1');
      else if (c.type === 'iTXt') {
        const compressed = c.data[nul + 1] === 1;
        let p = nul + 3;
        const langEnd = c.data.indexOf(0, p);
        if (langEnd < 0) continue;
        const transEnd = c.data.indexOf(0, langEnd + 1);
        if (transEnd < 0) continue;
        p = transEnd + 1;
        const body = c.data.subarray(p);
        out[key] = (compressed ? inflateSync(body) : body).toString('utf8');
      }
    } catch {
      // An undecodable text chunk is skipped, not fatal: the image itself is fine.
    }
  }
  return out;
}

/**
 * Returns a copy of `png` with `entries` written as text chunks, replacing any existing text chunks
 * with the same keywords. The new chunks go right before the first IDAT rather than before IEND:
 * both are valid PNG, but readers that stop at the image data (Pillow's `Image.info` on open, which
 * A1111's "PNG Info" uses; libvips) only see text placed ahead of it.
 */
export function withPngText(png: Uint8Array, entries: Array<{ key: string; text: string; itxt?: boolean }>): Buffer {
  const chunks = readPngChunks(png);
  const keys = new Set(entries.map((e) => e.key));
  const parts: Buffer[] = [PNG_SIGNATURE];
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const fresh = entries.map((e) => (e.itxt ? itxtChunk(e.key, e.text) : textChunk(e.key, e.text)));
  let inserted = false;
  for (const c of chunks) {
    if (!inserted && (c.type === 'IDAT' || c.type === 'IEND')) {
      parts.push(...fresh);
      inserted = true;
    }
    if (c.type === 'tEXt' || c.type === 'iTXt' || c.type === 'zTXt') {
      const nul = c.data.indexOf(0);
      if (nul > 0 && keys.has(c.data.toString('latin1', 0, nul))) continue;
    }
    parts.push(buf.subarray(c.offset, c.offset + 12 + c.data.length));
  }
  return Buffer.concat(parts);
}

/** Width and height from the IHDR chunk, without decoding anything. */
export function pngDimensions(input: Uint8Array): { width: number; height: number } {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!isPng(buf) || buf.length < 24 || buf.toString('latin1', 12, 16) !== 'IHDR')
    throw new EngineError('IMAGE', 'not a PNG file (no IHDR)');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}
