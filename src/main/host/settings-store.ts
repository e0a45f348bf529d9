/**
 * Settings persistence. The Electron app uses electron-store (src/main/app/settings.ts); the web
 * bridge and tests use FileSettingsStore, a JSON file with the same schema and the same layout
 * (electron-store keeps the settings object at the top level of `config.json`).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SETTINGS, SettingsSchema, mergeSettings, type Settings, type SettingsPatch } from '../../shared/ipc/settings.js';
import { writeFileAtomic } from './library.js';

export interface SettingsStore {
  get(): Settings;
  /** Apply a validated patch, persist it, return the new settings. */
  set(patch: SettingsPatch): Promise<Settings>;
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

export class FileSettingsStore implements SettingsStore {
  private current: Settings;

  constructor(readonly file: string) {
    let raw: unknown = {};
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      // missing or corrupt: defaults
    }
    this.current = parseStoredSettings(raw);
  }

  get(): Settings {
    return this.current;
  }

  async set(patch: SettingsPatch): Promise<Settings> {
    const next = mergeSettings(this.current, patch);
    mkdirSync(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(next, null, 2));
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
