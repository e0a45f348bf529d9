/**
 * User settings. Stored by electron-store in the app and by a JSON file of the same schema in the
 * web bridge. Every field has a default, so an empty or partly invalid store still parses.
 */
import { z } from 'zod';
import {
  ImageSideSchema,
  InversionObjectiveSchema,
  InversionPresetSchema,
  ModelSetRefSchema,
  PathSchema,
  PromptSchema,
  ProviderSchema,
  SchedulerSchema,
  SeedSchema,
} from './common.js';

/**
 * Generation defaults. Sampler settings and size left unset mean "the model set's own default"
 * (e.g. 512x512, 25 DDIM steps, guidance 7.5 for SD 1.5; 1 Turbo step for SD-Turbo; 256x256 for demo).
 */
export const GenerateDefaultsSchema = z.strictObject({
  negativePrompt: PromptSchema.default(''),
  seed: SeedSchema.default(0),
  steps: z.number().int().min(1).max(150).optional(),
  scheduler: SchedulerSchema.optional(),
  guidance: z.number().min(0).max(30).optional(),
  width: ImageSideSchema.optional(),
  height: ImageSideSchema.optional(),
});

export const InvertDefaultsSchema = z.strictObject({
  preset: InversionPresetSchema.default('fast'),
  objective: InversionObjectiveSchema.optional(),
  iterations: z.number().int().min(1).max(10_000).optional(),
});

export const SettingsSchema = z.strictObject({
  /** Execution provider for onnxruntime. */
  provider: ProviderSchema.default('auto'),
  /** Active model set: 'demo', a manifest name, or a folder. */
  modelSet: ModelSetRefSchema.default('demo'),
  /** Model cache folder; null = the platform default. */
  cacheDir: PathSchema.nullable().default(null),
  /** Library folder; null = `<app data>/library`. */
  libraryDir: PathSchema.nullable().default(null),
  /** Work offline: never contact a model hub. */
  offline: z.boolean().default(false),
  defaults: z
    .strictObject({
      generate: GenerateDefaultsSchema.prefault({}),
      invert: InvertDefaultsSchema.prefault({}),
    })
    .prefault({}),
});
export type Settings = z.infer<typeof SettingsSchema>;

/** A partial update for `setSettings`; nested `defaults` objects are merged field by field. */
export const SettingsPatchSchema = z.strictObject({
  provider: ProviderSchema.optional(),
  modelSet: ModelSetRefSchema.optional(),
  cacheDir: PathSchema.nullable().optional(),
  libraryDir: PathSchema.nullable().optional(),
  offline: z.boolean().optional(),
  defaults: z
    .strictObject({
      generate: GenerateDefaultsSchema.partial().optional(),
      invert: InvertDefaultsSchema.partial().optional(),
    })
    .optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});

/** Apply a validated patch; returns a new, validated Settings object. */
export function mergeSettings(current: Settings, patch: SettingsPatch): Settings {
  const next = {
    ...current,
    ...Object.fromEntries(Object.entries(patch).filter(([k, v]) => k !== 'defaults' && v !== undefined)),
    defaults: {
      generate: { ...current.defaults.generate, ...stripUndefined(patch.defaults?.generate) },
      invert: { ...current.defaults.invert, ...stripUndefined(patch.defaults?.invert) },
    },
  };
  return SettingsSchema.parse(next);
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
