/**
 * Training checkpoints: named float32 tensors plus a JSON header, in one file written
 * atomically (temporary file, fsync, rename), so a run killed at any moment leaves either the
 * previous checkpoint or the new one, never half a file.
 *
 * Layout: "ISCKPT01" (8 bytes) | header length (uint32 LE) | header JSON (UTF-8) | zero padding to
 * a multiple of 4 | the tensors' float32 data back to back, in header order. The header holds
 * `meta` (the caller's JSON: step, optimiser step count, random-stream states, loss log, config
 * fingerprint) and per tensor its name and length.
 */
import { open, readFile, rename, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.js';

const MAGIC = 'ISCKPT01';

export interface Checkpoint<M = unknown> {
  meta: M;
  tensors: Map<string, Float32Array>;
}

/** Write a checkpoint atomically (the folder is created if needed). */
export async function saveCheckpoint<M>(file: string, ck: Checkpoint<M>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const entries = [...ck.tensors].map(([name, v]) => ({ name, length: v.length }));
  const header = Buffer.from(JSON.stringify({ meta: ck.meta, tensors: entries }), 'utf8');
  const pre = 8 + 4 + header.length;
  const pad = (4 - (pre % 4)) % 4;
  const head = Buffer.alloc(pre + pad);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(header.length, 8);
  header.copy(head, 12);
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(head);
    for (const v of ck.tensors.values()) await fh.write(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Read a checkpoint written by saveCheckpoint.
 * @throws EngineError('INVALID_ARGUMENT') when the file is not a checkpoint or is truncated
 */
export async function loadCheckpoint<M = unknown>(file: string): Promise<Checkpoint<M>> {
  const buf = await readFile(file);
  const bad = (why: string): EngineError =>
    new EngineError('INVALID_ARGUMENT', `${file} is not a usable training checkpoint (${why}); delete it to start the phase afresh`);
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw bad('bad magic');
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw bad('truncated header');
  let header: { meta: M; tensors: { name: string; length: number }[] };
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as typeof header;
  } catch {
    throw bad('unreadable header');
  }
  let off = 12 + hlen;
  off += (4 - (off % 4)) % 4;
  const tensors = new Map<string, Float32Array>();
  for (const t of header.tensors) {
    const bytes = t.length * 4;
    if (off + bytes > buf.length) throw bad(`truncated at tensor ${t.name}`);
    // copy into an aligned buffer of its own
    tensors.set(t.name, new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + bytes)));
    off += bytes;
  }
  return { meta: header.meta, tensors };
}
