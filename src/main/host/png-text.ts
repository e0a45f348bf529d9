/**
 * Read and add PNG text chunks (tEXt / uncompressed iTXt). The library embeds each item's JSON in
 * its PNG so the index can be rebuilt from the images alone.
 */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function isPng(buf: Uint8Array): boolean {
  return buf.length >= 8 && Buffer.from(buf.subarray(0, 8)).equals(SIGNATURE);
}

interface Chunk {
  type: string;
  start: number;
  dataStart: number;
  length: number;
}

function* chunks(buf: Buffer): Generator<Chunk> {
  let off = 8;
  while (off + 12 <= buf.length) {
    const length = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + length > buf.length) return;
    yield { type, start: off, dataStart: off + 8, length };
    off += 12 + length;
    if (type === 'IEND') return;
  }
}

/** Text chunks of a PNG (tEXt and uncompressed iTXt), keyword -> text. */
export function readPngText(png: Uint8Array): Map<string, string> {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const out = new Map<string, string>();
  if (!isPng(buf)) return out;
  for (const c of chunks(buf)) {
    const data = buf.subarray(c.dataStart, c.dataStart + c.length);
    if (c.type === 'tEXt') {
      const z = data.indexOf(0);
      if (z > 0) out.set(data.toString('latin1', 0, z), data.toString('latin1', z + 1));
    } else if (c.type === 'iTXt') {
      const z = data.indexOf(0);
      if (z <= 0 || data[z + 1] !== 0) continue; // compressed iTXt not needed here
      const langEnd = data.indexOf(0, z + 3);
      const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
      if (transEnd < 0) continue;
      out.set(data.toString('latin1', 0, z), data.toString('utf8', transEnd + 1));
    }
  }
  return out;
}

/** Return a copy of `png` with UTF-8 iTXt chunks for `entries` inserted before IEND. */
export function addPngText(png: Uint8Array, entries: Record<string, string>): Buffer {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!isPng(buf)) throw new Error('not a PNG');
  let iend = -1;
  for (const c of chunks(buf)) if (c.type === 'IEND') iend = c.start;
  if (iend < 0) throw new Error('PNG has no IEND chunk');
  const extra: Buffer[] = [];
  for (const [key, text] of Object.entries(entries)) {
    if (!/^[\x20-\x7e]{1,79}$/.test(key)) throw new Error(`invalid PNG text keyword '${key}'`);
    const data = Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write('iTXt', 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    extra.push(head, data, crc);
  }
  return Buffer.concat([buf.subarray(0, iend), ...extra, buf.subarray(iend)]);
}
