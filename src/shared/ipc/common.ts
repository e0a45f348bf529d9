/** Small zod building blocks shared by the IPC modules. */
import { z } from 'zod';
import {
  ID_PATTERN,
  MAX_IMAGE_DATA_URL_CHARS,
  MAX_MESSAGE_TEXT_CHARS,
  MAX_NAME_CHARS,
  MAX_PATH_CHARS,
  MAX_PREVIEW_DATA_URL_CHARS,
  MAX_PROMPT_CHARS,
} from './limits.js';

export const IdSchema = z.string().regex(ID_PATTERN, 'expected an id of 1-64 characters [A-Za-z0-9._-]');
export const PromptSchema = z.string().max(MAX_PROMPT_CHARS);
export const NameSchema = z.string().min(1).max(MAX_NAME_CHARS);
export const PathSchema = z.string().min(1).max(MAX_PATH_CHARS);
export const TextSchema = z.string().max(MAX_MESSAGE_TEXT_CHARS);
/** ISO-8601 timestamp string. */
export const TimestampSchema = z.string().max(40);

const IMAGE_DATA_URL = /^data:image\/(png|jpeg|webp|gif|bmp|tiff);base64,[A-Za-z0-9+/]*={0,2}$/;
/** An uploaded image as a base64 `data:` URL, at most MAX_IMAGE_BYTES decoded. */
export const ImageDataUrlSchema = z
  .string()
  .max(MAX_IMAGE_DATA_URL_CHARS, 'image larger than 50 MB')
  .regex(IMAGE_DATA_URL, 'expected a base64 data:image/... URL');
/** A small PNG preview as a `data:image/png;base64,` URL. */
export const PreviewDataUrlSchema = z
  .string()
  .max(MAX_PREVIEW_DATA_URL_CHARS, 'preview larger than 8 MB')
  .regex(/^data:image\/png;base64,[A-Za-z0-9+/]*={0,2}$/, 'expected a data:image/png;base64 URL');

/** uint32 seed: same seed + same settings = same image. */
export const SeedSchema = z.number().int().min(0).max(0xffff_ffff);
/** Sampler names (see src/main/engine/diffusion/schedulers). */
export const SchedulerSchema = z.enum(['ddim', 'euler', 'lms', 'turbo']);
export type SchedulerName = z.infer<typeof SchedulerSchema>;
/** Image side in pixels: a multiple of 8 (the VAE's factor). */
export const ImageSideSchema = z
  .number()
  .int()
  .min(64)
  .max(2048)
  .refine((v) => v % 8 === 0, 'must be a multiple of 8');
/** Execution provider choice; `auto` picks CUDA/DirectML/CoreML where available, else CPU. */
export const ProviderSchema = z.enum(['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu']);
export type Provider = z.infer<typeof ProviderSchema>;
/** A model set: a known name ('demo', 'sd15', 'sd15-fp16', 'sd-turbo', ...) or a folder path. */
export const ModelSetRefSchema = PathSchema;
export const InversionPresetSchema = z.enum(['fast', 'paper']);
export const InversionObjectiveSchema = z.enum(['pixel', 'latent', 'denoise']);
export type InversionPreset = z.infer<typeof InversionPresetSchema>;
export type InversionObjective = z.infer<typeof InversionObjectiveSchema>;

/** Error payload: `code` is stable (switch on it), `message` says what the user can do. */
export const ErrorInfoSchema = z.strictObject({
  code: z.string().min(1).max(64),
  message: TextSchema,
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;
