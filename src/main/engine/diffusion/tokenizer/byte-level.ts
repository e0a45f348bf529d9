/**
 * GPT-2/CLIP byte-level alphabet: every byte 0..255 gets a printable unicode character, so BPE
 * can run on strings while covering arbitrary UTF-8. Printable Latin-1 bytes ('!'..'~',
 * '¡'..'¬', '®'..'ÿ') map to themselves; the remaining 68 bytes, in byte order, map to
 * U+0100, U+0101, ... CLIP's vocabulary starts with these 256 characters in exactly that order
 * (printable ones first), which is why id 0 is '!'.
 */

function buildTables(): { byteToChar: string[]; charToByte: Map<string, number>; order: number[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const byteToChar = new Array<string>(256);
  const order = printable.slice();
  for (const b of printable) byteToChar[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToChar[b] !== undefined) continue;
    byteToChar[b] = String.fromCharCode(256 + next++);
    order.push(b);
  }
  const charToByte = new Map<string, number>();
  byteToChar.forEach((c, b) => charToByte.set(c, b));
  return { byteToChar, charToByte, order };
}

const TABLES = buildTables();

/** The 256 byte characters in CLIP vocabulary order (ids 0..255). */
export const BYTE_ALPHABET: readonly string[] = TABLES.order.map((b) => TABLES.byteToChar[b]!);

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 bytes of `text` as byte-level characters. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) out += TABLES.byteToChar[b];
  return out;
}

/** Inverse of toByteLevel; characters outside the alphabet are dropped, bad UTF-8 becomes U+FFFD. */
export function fromByteLevel(chars: string): string {
  const bytes: number[] = [];
  for (const c of chars) {
    const b = TABLES.charToByte.get(c);
    if (b !== undefined) bytes.push(b);
  }
  return decoder.decode(new Uint8Array(bytes));
}
