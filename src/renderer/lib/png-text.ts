/**
 * The text chunks of a PNG, read in the renderer (no Node): tEXt and uncompressed iTXt, keyword →
 * text, first occurrence wins. Enough to read the prompt of a dropped image (our JSON record,
 * A1111's `parameters`) before it is sent to the engine, which reads the file again itself.
 */
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPngBytes(b: Uint8Array): boolean {
  return b.length >= 8 && SIGNATURE.every((v, i) => b[i] === v);
}

export function readPngTextChunks(b: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  if (!isPngBytes(b)) return out;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8');
  let at = 8;
  while (at + 12 <= b.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!);
    const start = at + 8;
    const end = start + length;
    if (end + 4 > b.length || type === 'IEND') break;
    const data = b.subarray(start, end);
    const nul = data.indexOf(0);
    if (nul > 0 && (type === 'tEXt' || type === 'iTXt')) {
      const key = latin1.decode(data.subarray(0, nul));
      if (!out.has(key)) {
        if (type === 'tEXt') out.set(key, latin1.decode(data.subarray(nul + 1)));
        else if (data[nul + 1] === 0) {
          // keyword \0 flag method language \0 translated keyword \0 text
          const lang = data.indexOf(0, nul + 3);
          const trans = lang < 0 ? -1 : data.indexOf(0, lang + 1);
          if (trans >= 0) out.set(key, utf8.decode(data.subarray(trans + 1)));
        }
      }
    }
    at = end + 4;
  }
  return out;
}
