/**
 * Settings persistence. The Electron app uses electron-store (src/main/app/settings.ts); the web
 * bridge and tests use FileSettingsStore, a JSON file with the same schema and the same layout
 * (electron-store keeps the settings object at the top level of `config.json`).
 *
 * A settings file is parsed with the settings schema. One that is unreadable (truncated, not
 * JSON) or invalid is never overwritten in place: it is moved aside to
 * `config.json.corrupt-<time>`, the values that can be recovered from it (a truncated file keeps
 * its complete leading fields, e.g. the library folder) are written to a fresh `config.json`, and a
 * notice tells the user. A settings path that cannot be read at all (a folder, no permission) is
 * left alone and settings changes are refused with a message saying why.
 */
import { lstatSync, readFileSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { FileWriteError, safeWriteFile, safeWriteFileSync } from '../engine/io/safe-write.js';
import { SAFE_WRITE_TEMP_PATTERNS, sweepStaleTempsSync } from '../engine/io/temp-files.js';
import { DEFAULT_SETTINGS, SettingsSchema, mergeSettings, type Settings, type SettingsPatch } from '../../shared/ipc/settings.js';
import { corruptBackupPath } from './library.js';
import { publishNotice, type NoticeInput, type StudioNotice } from './notices.js';

export interface SettingsStore {
  get(): Settings;
  /** Apply a validated patch, persist it, return the new settings. */
  set(patch: SettingsPatch): Promise<Settings>;
  /** What the user should be told about the stored settings (a damaged file moved aside...). */
  notices?(): StudioNotice[];
}

/**
 * Parse stored settings leniently: fields that fail the schema fall back to their defaults
 * instead of discarding the whole file.
 */
export function parseStoredSettings(raw: unknown): Settings {
  const whole = SettingsSchema.safeParse(raw);
  if (whole.success) return whole.data;
  let s = DEFAULT_SETTINGS;
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (k === 'defaults' && v && typeof v === 'object') {
        for (const [group, obj] of Object.entries(v as Record<string, unknown>)) {
          if ((group === 'generate' || group === 'invert') && obj && typeof obj === 'object') {
            for (const [f, x] of Object.entries(obj as Record<string, unknown>)) {
              try {
                s = mergeSettings(s, { defaults: { [group]: { [f]: x } } } as SettingsPatch);
              } catch {
                // keep the default for this field
              }
            }
          }
        }
        continue;
      }
      try {
        s = mergeSettings(s, { [k]: v } as SettingsPatch);
      } catch {
        // keep the default for this field
      }
    }
  }
  return s;
}

class Truncated {
  constructor(readonly value: unknown) {}
}

/**
 * The complete leading part of a truncated or damaged JSON object: `{"a":1,"b":{"c":2,"d` gives
 * `{ a: 1, b: { c: 2 } }`. Values cut short (a string without its closing quote, a number at the
 * very end) are left out rather than guessed. Undefined when the text is not an object at all.
 */
export function salvageJsonObject(text: string): Record<string, unknown> | undefined {
  let i = 0;
  const STOP = new Truncated(undefined);
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const str = (): string => {
    const m = /^"(?:[^"\\\n]|\\.)*"/.exec(text.slice(i, i + 1_000_000));
    if (!m) throw STOP;
    i += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return str();
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 64));
    if (!m) throw STOP;
    if (i + m[0].length >= text.length && /\d$/.test(m[0])) throw STOP; // may be cut short
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const array = (): unknown[] => {
    i++;
    const out: unknown[] = [];
    try {
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return out;
        } else throw STOP;
      }
    } catch (e) {
      if (e instanceof Truncated) throw STOP; // a partial list is not a list the user wrote
      throw e;
    }
  };
  const object = (): Record<string, unknown> => {
    i++;
    const out: Record<string, unknown> = {};
    try {
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text[i] !== ':') throw STOP;
        i++;
        try {
          out[k] = value();
        } catch (e) {
          if (e instanceof Truncated && e.value !== undefined) out[k] = e.value;
          throw e;
        }
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return out;
        } else throw STOP;
      }
    } catch (e) {
      if (e instanceof Truncated) throw new Truncated(out);
      throw e;
    }
  };
  ws();
  if (text[i] !== '{') return undefined;
  try {
    return object();
  } catch (e) {
    if (e instanceof Truncated) return e.value as Record<string, unknown>;
    return undefined;
  }
}

/** Fields of `salvaged` settings that differ from the defaults (to tell the user what was kept). */
function keptFields(s: Settings): string[] {
  const out: string[] = [];
  for (const k of Object.keys(s) as (keyof Settings)[]) {
    if (k === 'defaults') continue;
    if (JSON.stringify(s[k]) !== JSON.stringify(DEFAULT_SETTINGS[k])) out.push(k);
  }
  for (const g of ['generate', 'invert'] as const)
    for (const [f, v] of Object.entries(s.defaults[g]))
      if (JSON.stringify(v) !== JSON.stringify((DEFAULT_SETTINGS.defaults[g] as Record<string, unknown>)[f]))
        out.push(`defaults.${g}.${f}`);
  return out;
}

export interface SettingsFileState {
  settings: Settings;
  /** Why settings changes must not be written to this path (it could not be read), if so. */
  unwritable?: string;
  /** Where a damaged file was moved. */
  movedTo?: string;
  notices: NoticeInput[];
}

/**
 * Read a settings file, recovering from damage (see the module comment). Synchronous: stores
 * read their file in their constructor. Never throws for a bad file.
 */
export function loadSettingsFile(file: string, now = new Date()): SettingsFileState {
  const abs = path.resolve(file);
  let st;
  try {
    st = lstatSync(abs);
    if (st.isSymbolicLink()) st = statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { settings: DEFAULT_SETTINGS, notices: [] };
    return unreadable(abs, `it cannot be opened (${(e as Error).message})`);
  }
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a folder' : 'not a regular file';
    return unreadable(abs, `it is ${kind}, not a settings file; rename or remove it`);
  }
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    return unreadable(abs, `it cannot be read (${(e as Error).message})`);
  }
  let raw: unknown;
  let problem: string | undefined;
  try {
    raw = JSON.parse(text);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) problem = 'it does not hold a settings object';
    else {
      const whole = SettingsSchema.safeParse(raw);
      if (whole.success) return { settings: whole.data, notices: [] };
      const i = whole.error.issues[0];
      problem = `some values are invalid (${i ? `${i.path.join('.') || 'top level'}: ${i.message}` : 'schema'})`;
    }
  } catch (e) {
    problem = text.trim() === '' ? 'it is empty' : `it is not valid JSON (${(e as Error).message})`;
    raw = salvageJsonObject(text);
  }
  const settings = parseStoredSettings(raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {});
  const movedTo = corruptBackupPath(abs, now);
  try {
    renameSync(abs, movedTo);
  } catch (e) {
    return unreadable(abs, `${problem}, and it could not be moved aside (${(e as Error).message})`, settings);
  }
  const kept = keptFields(settings);
  const notices: NoticeInput[] = [
    {
      source: 'settings',
      level: 'warning',
      file: abs,
      movedTo,
      message:
        `The settings file ${abs} was damaged (${problem}); it was moved to ${path.basename(movedTo)}. ` +
        (kept.length ? `Recovered: ${kept.join(', ')}; everything else is back to its default.` : 'Settings are back to their defaults.'),
    },
  ];
  try {
    safeWriteFileSync(abs, JSON.stringify(settings, null, 2), { what: 'the settings file' });
  } catch (e) {
    notices.push({
      source: 'settings',
      level: 'error',
      file: abs,
      message: `The recovered settings could not be saved: ${(e as Error).message}`,
    });
  }
  return { settings, movedTo, notices };
}

function unreadable(file: string, why: string, settings: Settings = DEFAULT_SETTINGS): SettingsFileState {
  const reason = `the settings file ${file} could not be read: ${why}`;
  return {
    settings,
    unwritable: reason,
    notices: [
      {
        source: 'settings',
        level: 'error',
        file,
        message: `${reason[0]!.toUpperCase()}${reason.slice(1)}. Using default settings; changes are not saved until it is fixed, so the file is not overwritten.`,
      },
    ],
  };
}

export class FileSettingsStore implements SettingsStore {
  private current: Settings;
  private readonly unwritable: string | undefined;
  private readonly raised: StudioNotice[];

  constructor(readonly file: string) {
    sweepStaleTempsSync(path.dirname(path.resolve(file)), { patterns: SAFE_WRITE_TEMP_PATTERNS });
    const state = loadSettingsFile(file);
    this.current = state.settings;
    this.unwritable = state.unwritable;
    this.raised = state.notices.map((n) => publishNotice(n));
  }

  get(): Settings {
    return this.current;
  }

  notices(): StudioNotice[] {
    return [...this.raised];
  }

  async set(patch: SettingsPatch): Promise<Settings> {
    const next = mergeSettings(this.current, patch);
    if (this.unwritable) throw new FileWriteError(`settings were not saved: ${this.unwritable}.`, this.file);
    await safeWriteFile(this.file, JSON.stringify(next, null, 2), { mkdir: true, what: 'the settings file' });
    this.current = next;
    return next;
  }
}

/** In-memory store (tests). */
export class MemorySettingsStore implements SettingsStore {
  constructor(private current: Settings = DEFAULT_SETTINGS) {}
  get(): Settings {
    return this.current;
  }
  async set(patch: SettingsPatch): Promise<Settings> {
    this.current = mergeSettings(this.current, patch);
    return this.current;
  }
}
