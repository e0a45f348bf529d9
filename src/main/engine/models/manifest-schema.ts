/**
 * Model manifests: what to fetch for one named model (hub repo, revision, files) and how to check it.
 *
 * A manifest is data (models/*.json), validated here with zod because manifests can also come from
 * the user (`--manifests DIR`) and their paths end up as file names on disk.
 */
import { z } from 'zod';
import { EngineError } from '../errors.js';

export const MODEL_KINDS = ['diffusion', 'captioner', 'clip', 'lm', 'e2t', 'metric'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** Model / import names: also folder names in the cache, so kept filesystem-safe everywhere. */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

const sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');

/**
 * A repo-relative POSIX path. Rejects absolute paths, backslashes, empty segments and `..`, so a
 * manifest can never make the downloader write outside the model's folder.
 */
const repoPath = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.startsWith('/') && !p.includes('\\') && !/^[a-z]:/i.test(p), 'path must be relative and use /')
  .refine((p) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'path must not contain empty, . or .. segments')
  .refine((p) => !p.endsWith('.part') && !p.endsWith('.lock'), 'path must not end in .part or .lock');

export const manifestFileSchema = z.object({
  /** Path inside the hub repo, which is also the path inside the model's cache folder. */
  path: repoPath,
  /** Exact size in bytes; verified after download when present. */
  size: z.number().int().nonnegative().optional(),
  /** Lowercase hex sha256 of the file; verified after download when present. */
  sha256: sha256Hex.optional(),
  /** Approximate size in bytes (from a hub listing, rounded): for display and disk checks only, never verified. */
  sizeHint: z.number().int().nonnegative().optional(),
  /** Files that are not needed by the app (e.g. configs kept for provenance) can be marked optional. */
  optional: z.boolean().optional(),
});

export const manifestSchema = z
  .object({
    id: z.string().regex(MODEL_ID_PATTERN, 'id must be 1-64 chars of a-z, 0-9, ., _, - (starting with a letter or digit)'),
    title: z.string().min(1),
    kind: z.enum(MODEL_KINDS),
    /** `owner/name` on the hub. */
    hubRepo: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'hubRepo must be owner/name'),
    /** Branch, tag or 40-hex commit. Only a commit pins the sha256 values for good. */
    revision: z.string().min(1).max(100).regex(/^[A-Za-z0-9._/-]+$/, 'revision must be a branch, tag or commit'),
    files: z.array(manifestFileSchema).min(1),
    license: z.string().optional(),
    notes: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const f of m.files) {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', message: `duplicate file path ${f.path}`, path: ['files'] });
      seen.add(f.path);
    }
  });

export type ManifestFile = z.infer<typeof manifestFileSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** Validates unknown JSON as a manifest; `source` (a file name) goes into the error message. */
export function parseManifest(json: unknown, source = 'manifest'): Manifest {
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    throw new EngineError('INVALID_ARGUMENT', `${source} is not a valid model manifest:\n${z.prettifyError(r.error)}`);
  }
  return r.data;
}

/** Sum of exact sizes, falling back to size hints; `exact` is false when any file had only a hint or nothing. */
export function manifestBytes(m: Manifest): { bytes: number; exact: boolean } {
  let bytes = 0;
  let exact = true;
  for (const f of m.files) {
    if (f.size !== undefined) bytes += f.size;
    else {
      exact = false;
      bytes += f.sizeHint ?? 0;
    }
  }
  return { bytes, exact };
}
