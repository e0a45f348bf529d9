/**
 * What the Edit view edits: a library image (a generation, an edit, an edit's before image, an
 * inversion's result or a candidate's) or a dropped PNG, with the prompt it was made from. The
 * prompt is the one the engine's edit job reads for the same image (host/jobs/edit.ts), so the
 * live diff is the one the engine will find.
 */
import type { LibraryItem } from '../../../shared/ipc/library.js';
import type { ImageInput } from '../../../shared/ipc/requests.js';
import { readPngTextChunks } from '../../lib/png-text.js';

export interface EditSourceView {
  /** What the edit request names. */
  input: ImageInput;
  /** The library file shown (for `api.imageUrl`), or the upload's data URL. */
  file?: string;
  dataUrl?: string;
  /** The prompt the image was made from: what the diff compares the edited prompt with. */
  prompt: string;
  kind: 'generation' | 'edit' | 'before' | 'inversion' | 'upload';
  title: string;
  /** Settings in a few words, e.g. "seed 42 · 4 steps · ddim · demo". */
  details: string;
  /** The library item, for a library image. */
  itemId?: string;
}

const short = (s: string, n = 60): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A library item's image (or `file`, another image of it) as an edit source; a reason when it cannot be one. */
export function sourceFromItem(item: LibraryItem, file?: string): EditSourceView | { error: string } {
  const name = file ?? item.file;
  const input: ImageInput = { source: 'library', id: item.id, ...(file && file !== item.file ? { file } : {}) };
  if (item.kind === 'generation') {
    const before = item.edit && name === item.edit.sourceFile ? item.edit.source : undefined;
    const p = before ?? item.params;
    const details = `seed ${p.seed} · ${p.steps} steps · ${p.scheduler} · ${p.width}×${p.height} · ${p.model}`;
    if (before) return { input, file: name, prompt: before.prompt, kind: 'before', title: `before of an edit`, details, itemId: item.id };
    if (name !== item.file) return { error: `'${name}' is not an image of this generation` };
    return {
      input,
      file: name,
      prompt: p.prompt,
      kind: item.edit ? 'edit' : 'generation',
      title: item.title ?? short(p.prompt),
      details,
      itemId: item.id,
    };
  }
  const inv = item.inversion;
  if (name === inv.targetFile)
    return { error: "an inversion's target is the image that was inverted, not a generation: edit the inversion's result instead" };
  const candidate = name === item.file ? inv.candidates.find((c) => c.file) : inv.candidates.find((c) => c.file === name);
  if (name !== item.file && !candidate) return { error: `'${name}' is not an image of this inversion` };
  return {
    input,
    file: name,
    prompt: candidate?.prompt ?? inv.prompt,
    kind: 'inversion',
    title: item.title ?? `inversion: ${short(inv.prompt)}`,
    details: `inversion answer · ${inv.preset} preset · ${item.width}×${item.height} · ${inv.model}`,
    itemId: item.id,
  };
}

/** The prompt part of A1111 `parameters` text (before "Negative prompt:" and the settings line). */
export function a1111Prompt(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines.length > 1 && /^\s*Steps:/.test(lines[lines.length - 1] ?? '')) lines.pop();
  const neg = lines.findIndex((l) => l.startsWith('Negative prompt:'));
  return (neg >= 0 ? lines.slice(0, neg) : lines).join('\n').trim();
}

/**
 * A dropped PNG as an edit source: its prompt from our record (the `inversion-studio` JSON chunk)
 * or A1111's `parameters`; a reason when it carries neither (the engine could not sample it again).
 */
export function sourceFromPng(bytes: Uint8Array, dataUrl: string, name: string): EditSourceView | { error: string } {
  const text = readPngTextChunks(bytes);
  let prompt: string | undefined;
  let details = '';
  const json = text.get('inversion-studio');
  if (json) {
    try {
      const r = JSON.parse(json) as { prompt?: unknown; seed?: unknown; steps?: unknown; scheduler?: unknown; model?: unknown };
      if (typeof r.prompt === 'string' && typeof r.seed === 'number') {
        prompt = r.prompt;
        details = `seed ${r.seed} · ${String(r.steps)} steps · ${String(r.scheduler)} · ${String(r.model)}`;
      }
    } catch {
      // not our record: try the A1111 text
    }
  }
  const params = text.get('parameters');
  if (prompt === undefined && params !== undefined && /\bSeed:\s*\d+/.test(params)) {
    prompt = a1111Prompt(params);
    details = params.split('\n').pop()?.slice(0, 120) ?? '';
  }
  if (!prompt)
    return {
      error: `${name} carries no generation parameters (prompt and seed), so the engine cannot sample it again: invert it first and edit the result`,
    };
  return {
    input: { source: 'data', dataUrl, name: name.slice(0, 256) },
    dataUrl,
    prompt,
    kind: 'upload',
    title: short(name),
    details,
  };
}
