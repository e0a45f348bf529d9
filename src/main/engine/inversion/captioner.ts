/**
 * Caption initialisation (EDITOR step 1) with transformers.js captioners: Florence-2
 * (`<CAPTION>` / `<DETAILED_CAPTION>`), ViT-GPT2, Janus-Pro-1B. Models are read from our cache
 * folder (the layout `inversion-studio models download` writes); when one is missing offline
 * the error says how to install it or to pass `--init "TEXT"` instead.
 */
import { EngineError, throwIfAborted } from '../errors.js';
import { loadHubModel, locateHubModel, type HfOptions, type Transformers } from '../hf/transformers.js';

export type CaptionerName = 'florence2' | 'vit-gpt2' | 'janus';

export const CAPTIONER_REPOS: Record<CaptionerName, string> = {
  florence2: 'onnx-community/Florence-2-base-ft',
  'vit-gpt2': 'Xenova/vit-gpt2-image-captioning',
  janus: 'onnx-community/Janus-Pro-1B-ONNX',
};

/** Manifest ids (models/*.json) of the captioners `inversion-studio models download` knows. */
export const CAPTIONER_MANIFESTS: Partial<Record<CaptionerName, string>> = {
  florence2: 'florence2-base-ft',
  'vit-gpt2': 'vit-gpt2',
};

/** Files transformers.js reads from each captioner's folder (fp32 weights; for Janus only the tokenizer and processor files, its ONNX set varies by dtype). */
const CAPTIONER_FILES: Record<CaptionerName, readonly string[]> = {
  'vit-gpt2': [
    'tokenizer.json',
    'tokenizer_config.json',
    'preprocessor_config.json',
    'onnx/encoder_model.onnx',
    'onnx/decoder_model_merged.onnx',
  ],
  florence2: [
    'tokenizer.json',
    'tokenizer_config.json',
    'preprocessor_config.json',
    'onnx/vision_encoder.onnx',
    'onnx/embed_tokens.onnx',
    'onnx/encoder_model.onnx',
    'onnx/decoder_model_merged.onnx',
  ],
  janus: ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json'],
};

/** How to install a captioner, for error messages. */
export function captionerInstallHint(name: CaptionerName, cacheDir: string): string {
  const manifest = CAPTIONER_MANIFESTS[name];
  const repo = CAPTIONER_REPOS[name];
  return (
    (manifest ? `Install it with \`inversion-studio models download ${manifest}\` on a connected machine, or copy` : 'Copy') +
    ` the ${repo} hub folder to ${cacheDir}/${repo}; or give the start text yourself with --init "TEXT".`
  );
}

/** True when the captioner's files are in the cache (either layout; loads nothing). */
export function captionerInstalled(name: CaptionerName, cacheDir: string): boolean {
  return locateHubModel(cacheDir, CAPTIONER_REPOS[name], CAPTIONER_MANIFESTS[name]) !== undefined;
}

/** An 8-bit RGB image, row-major HWC. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface CaptionOptions extends HfOptions {
  captioner?: CaptionerName;
  /** Florence-2 task token (default `<CAPTION>`, as the reference). */
  task?: '<CAPTION>' | '<DETAILED_CAPTION>' | '<MORE_DETAILED_CAPTION>';
  maxNewTokens?: number;
  signal?: AbortSignal;
}

export interface Captioner {
  /** A CaptionerName, or the name of a model set's own captioner (model-set-helpers.ts). */
  readonly name: string;
  caption(image: RgbImage, signal?: AbortSignal): Promise<string>;
}

function clean(text: string): string {
  return text
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Load a captioner; throws EngineError('NOT_INSTALLED') with instructions when absent offline. */
export async function loadCaptioner(opts: CaptionOptions): Promise<Captioner> {
  const name = opts.captioner ?? 'florence2';
  // Installed by `models download` (models/<manifest id>/) or copied as a hub folder; online,
  // transformers.js may fetch the hub id instead.
  const spec = {
    label: `the ${name} captioner`,
    repo: CAPTIONER_REPOS[name],
    manifestId: CAPTIONER_MANIFESTS[name],
    files: CAPTIONER_FILES[name],
    installHint: captionerInstallHint(name, opts.cacheDir),
  };
  return loadHubModel(opts, spec, (t, repo) => buildCaptioner(t, repo, name, opts));
}

/** The captioner `name` from `repo` (a folder path or hub id). */
async function buildCaptioner(t: Transformers, repo: string, name: CaptionerName, opts: CaptionOptions): Promise<Captioner> {
  const device = (opts.device ?? 'cpu') as 'cpu';
  const maxNewTokens = opts.maxNewTokens ?? 40;
  const raw = (img: RgbImage) =>
    new t.RawImage(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength), img.width, img.height, 3);

  if (name === 'vit-gpt2') {
    const pipe = await t.pipeline('image-to-text', repo, { device, dtype: 'fp32' });
    // The repo's preprocessor_config.json says `"size": 224`. Python's ViT processor reads that as
    // 224x224 (stretch); transformers.js reads an integer size as "shortest and longest edge 224",
    // keeping the aspect ratio, so a non-square image reaches the encoder as e.g. 224x149 and the
    // ViT (fixed 197 positions) fails. Stretching to the square first restores Python's input.
    const size = (pipe as unknown as { processor?: { image_processor?: { size?: unknown } } }).processor?.image_processor?.size;
    const square = typeof size === 'number' && Number.isInteger(size) ? size : undefined;
    return {
      name,
      async caption(image, signal) {
        throwIfAborted(signal);
        const img = square ? await raw(image).resize(square, square) : raw(image);
        const out = (await pipe(img, { max_new_tokens: maxNewTokens })) as { generated_text: string }[];
        return clean(out[0]?.generated_text ?? '');
      },
    };
  }
  if (name === 'florence2') {
    const task = opts.task ?? '<CAPTION>';
    const processor = await t.AutoProcessor.from_pretrained(repo);
    const model = await t.Florence2ForConditionalGeneration.from_pretrained(repo, { device, dtype: 'fp32' });
    return {
      name,
      async caption(image, signal) {
        throwIfAborted(signal);
        const img = raw(image);
        const proc = processor as unknown as {
          construct_prompts(task: string): string[];
          batch_decode(ids: unknown, o: object): string[];
          post_process_generation(text: string, task: string, size: [number, number]): Record<string, string>;
        } & ((img: unknown, prompts: string[]) => Promise<Record<string, unknown>>);
        const inputs = await proc(img, proc.construct_prompts(task));
        const ids = await model.generate({ ...inputs, max_new_tokens: maxNewTokens });
        const text = proc.batch_decode(ids, { skip_special_tokens: false })[0] ?? '';
        const parsed = proc.post_process_generation(text, task, [image.width, image.height]);
        return clean(parsed[task] ?? text);
      },
    };
  }
  const processor = await t.AutoProcessor.from_pretrained(repo);
  const model = await t.MultiModalityCausalLM.from_pretrained(repo, { device });
  return {
    name,
    async caption(image, signal) {
      throwIfAborted(signal);
      const conversation = [
        { role: '<|User|>', content: '<image_placeholder>\nDescribe this image in one short sentence.', images: [raw(image)] },
        { role: '<|Assistant|>', content: '' },
      ];
      const proc = processor as unknown as ((c: unknown) => Promise<Record<string, { dims: number[] }>>) & {
        batch_decode(ids: unknown, o: object): string[];
      };
      const inputs = await proc(conversation);
      const ids = (await model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false })) as {
        slice(...a: unknown[]): unknown;
      };
      const promptLength = inputs.input_ids!.dims.at(-1)!;
      return clean(proc.batch_decode(ids.slice(null, [promptLength, null]), { skip_special_tokens: true })[0] ?? '');
    },
  };
}

/** Caption with the configured captioner, turning load failures into actionable errors. */
export async function captionImage(image: RgbImage, opts: CaptionOptions): Promise<string> {
  let captioner: Captioner;
  try {
    captioner = await loadCaptioner(opts);
  } catch (e) {
    if (e instanceof EngineError) throw e;
    const name = opts.captioner ?? 'florence2';
    throw new EngineError(
      'NOT_INSTALLED',
      `could not load the ${name} captioner: ${(e as Error).message}. ${captionerInstallHint(name, opts.cacheDir)} Another captioner can be picked with --captioner.`,
      { cause: e },
    );
  }
  return captionWith(captioner, image, opts.signal);
}

/** Caption with an already loaded captioner; an empty caption is an error saying what to do. */
export async function captionWith(captioner: Captioner, image: RgbImage, signal?: AbortSignal): Promise<string> {
  const text = await captioner.caption(image, signal);
  if (!text)
    throw new EngineError('RUNTIME', `the ${captioner.name} captioner returned an empty caption; give the start text with --init "TEXT"`);
  return text;
}
