/**
 * The A1111 ("AUTOMATIC1111 web UI") `parameters` text: the de-facto convention other tools read
 * (every PNG the studio writes carries it: docs/generation.md, "Pipeline"). Layout:
 *
 *   <prompt, may span lines>
 *   Negative prompt: <negative, may span lines>
 *   Steps: 5, Sampler: LMS, CFG scale: 7.5, Seed: 0, Size: 512x512, Model: sd15
 *
 * Values containing ',', ':' or a newline are written as JSON strings so the last line stays
 * parseable.
 */

export interface GenerationParams {
  prompt: string;
  negativePrompt?: string;
  steps?: number;
  /** Sampler label as A1111 shows it (see `samplerLabel`). */
  sampler?: string;
  cfgScale?: number;
  seed?: number;
  width?: number;
  height?: number;
  model?: string;
  modelHash?: string;
  /** Further `Key: value` pairs, written after the standard ones in insertion order. */
  extra?: Record<string, string | number | boolean>;
}

/** Our scheduler names → the labels A1111 uses for the same samplers. */
export const A1111_SAMPLER_LABELS: Readonly<Record<string, string>> = {
  ddim: 'DDIM',
  euler: 'Euler',
  'euler-a': 'Euler a',
  lms: 'LMS',
  turbo: 'Euler',
  lcm: 'LCM',
};

export function samplerLabel(scheduler: string): string {
  return A1111_SAMPLER_LABELS[scheduler.toLowerCase()] ?? scheduler;
}

function quote(v: string): string {
  return /[,:\n"]/.test(v) ? JSON.stringify(v) : v;
}

function num(n: number): string {
  // 7.5 -> "7.5", 7 -> "7": what Python's str(float) users expect to parse back.
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

/** Formats params as the A1111 `parameters` text. */
export function formatA1111(p: GenerationParams): string {
  const lines = [p.prompt];
  if (p.negativePrompt) lines.push(`Negative prompt: ${p.negativePrompt}`);
  const kv: Array<[string, string]> = [];
  if (p.steps !== undefined) kv.push(['Steps', num(p.steps)]);
  if (p.sampler !== undefined) kv.push(['Sampler', p.sampler]);
  if (p.cfgScale !== undefined) kv.push(['CFG scale', num(p.cfgScale)]);
  if (p.seed !== undefined) kv.push(['Seed', num(p.seed)]);
  if (p.width !== undefined && p.height !== undefined) kv.push(['Size', `${p.width}x${p.height}`]);
  if (p.modelHash !== undefined) kv.push(['Model hash', p.modelHash]);
  if (p.model !== undefined) kv.push(['Model', p.model]);
  for (const [k, v] of Object.entries(p.extra ?? {})) kv.push([k, typeof v === 'number' ? num(v) : String(v)]);
  if (kv.length) lines.push(kv.map(([k, v]) => `${k}: ${quote(v)}`).join(', '));
  return lines.join('\n');
}

/** `Key: value` pairs of a settings line; a quoted value is a JSON string. */
function parseSettingsLine(line: string): Array<[string, string]> | undefined {
  const re = /\s*([A-Za-z][\w \-/]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/y;
  const out: Array<[string, string]> = [];
  let pos = 0;
  while (pos < line.length) {
    re.lastIndex = pos;
    const m = re.exec(line);
    if (!m || m[0].length === 0) return undefined;
    let v = m[2]!.trim();
    if (v.startsWith('"')) {
      try {
        v = JSON.parse(v) as string;
      } catch {
        return undefined;
      }
    }
    out.push([m[1]!.trim(), v]);
    pos = re.lastIndex;
  }
  return out;
}

/**
 * Parses A1111 `parameters` text. The last line counts as settings only if it is entirely
 * `Key: value` pairs (at least 3, as A1111 writes); otherwise everything is prompt. Unknown keys go
 * to `extra` as strings.
 */
export function parseA1111(text: string): GenerationParams {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let settings: Array<[string, string]> | undefined;
  if (lines.length > 1 || /^\s*Steps:/.test(lines[0] ?? '')) {
    const last = lines[lines.length - 1] ?? '';
    const parsed = parseSettingsLine(last);
    if (parsed && parsed.length >= 3) {
      settings = parsed;
      lines.pop();
    }
  }
  const promptLines: string[] = [];
  const negLines: string[] = [];
  let inNeg = false;
  for (const l of lines) {
    if (!inNeg && l.startsWith('Negative prompt:')) {
      inNeg = true;
      negLines.push(l.slice('Negative prompt:'.length).trimStart());
    } else (inNeg ? negLines : promptLines).push(l);
  }
  const p: GenerationParams = { prompt: promptLines.join('\n').trim() };
  if (inNeg) p.negativePrompt = negLines.join('\n').trim();
  const extra: Record<string, string> = {};
  for (const [k, v] of settings ?? []) {
    const n = Number(v);
    switch (k) {
      case 'Steps':
        if (Number.isFinite(n)) p.steps = n;
        else extra[k] = v;
        break;
      case 'Sampler':
        p.sampler = v;
        break;
      case 'CFG scale':
        if (Number.isFinite(n)) p.cfgScale = n;
        else extra[k] = v;
        break;
      case 'Seed':
        if (Number.isFinite(n)) p.seed = n;
        else extra[k] = v;
        break;
      case 'Size': {
        const m = /^(\d+)x(\d+)$/.exec(v);
        if (m) {
          p.width = Number(m[1]);
          p.height = Number(m[2]);
        } else extra[k] = v;
        break;
      }
      case 'Model':
        p.model = v;
        break;
      case 'Model hash':
        p.modelHash = v;
        break;
      default:
        extra[k] = v;
    }
  }
  if (Object.keys(extra).length) p.extra = extra;
  return p;
}
