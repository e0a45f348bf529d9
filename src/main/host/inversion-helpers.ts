/**
 * The optional models an inversion in the studio uses when the user has installed them (Models
 * view or `inversion-studio models download`), never downloading anything: a captioner for the
 * start text (Florence-2, else ViT-GPT2), CLIP ViT-L/14 to rank candidates, GPT-2 for the
 * decoder's proposals and fluency term. Each stays loaded per cache folder once used (they are
 * large and every inversion would load them again).
 */
import type { LanguageModel } from '../engine/e2t/language-model.js';
import { EngineError } from '../engine/errors.js';
import { languageModelInstalled, loadCausalLm } from '../engine/e2t/language-model.js';
import { captionerInstalled, CAPTIONER_REPOS, loadCaptioner, type Captioner, type CaptionerName } from '../engine/inversion/captioner.js';
import type { ImageScorer } from '../engine/inversion/invert.js';
import { clipImageInstalled, loadClipImageScorer } from '../engine/metrics/clip-image.js';

export interface InversionHelpers {
  /** The installed captioner to start from, if any (Florence-2 preferred, as the reference). */
  captioner?: CaptionerName;
  scorer?: ImageScorer;
  lm?: LanguageModel;
  /** Installed helpers that could not be loaded, and what the inversion does without them. */
  warnings: string[];
}

/** Said when an inversion without a start text finds no captioner. */
export const NO_CAPTIONER_WARNING = `No captioner is installed (${CAPTIONER_REPOS.florence2}), so the inversion started from random words. Give a starting text, or install the captioner in the Models view.`;

const CAPTIONER_ORDER: CaptionerName[] = ['florence2', 'vit-gpt2'];

/** One loaded value per key; a failed load is forgotten so the next call tries again. */
class LoadedOnce<T> {
  private entry?: { key: string; value: Promise<T> };
  constructor(private readonly release: (old: T) => Promise<void> = async () => undefined) {}

  async get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.entry?.key !== key) {
      const old = this.entry;
      this.entry = { key, value: load() };
      const previous = await old?.value.catch(() => undefined);
      if (previous !== undefined) await this.release(previous);
    }
    const entry = this.entry;
    return entry.value.catch((e: unknown) => {
      if (this.entry === entry) this.entry = undefined;
      throw e;
    });
  }

  async clear(): Promise<void> {
    const old = this.entry;
    this.entry = undefined;
    const previous = await old?.value.catch(() => undefined);
    if (previous !== undefined) await this.release(previous);
  }
}

export class InversionHelperCache {
  private readonly scorer = new LoadedOnce<ImageScorer & { release(): Promise<void> }>((s) => s.release());
  private readonly lm = new LoadedOnce<LanguageModel>();
  private readonly captioner = new LoadedOnce<Captioner>();

  /** The captioner `resolve` reported, loaded once per cache folder and name. */
  loadCaptioner(cacheDir: string, name: CaptionerName, o: { device?: string } = {}): Promise<Captioner> {
    return this.captioner.get(`${cacheDir}|${name}`, () =>
      loadCaptioner({ cacheDir, captioner: name, offline: true, ...(o.device ? { device: o.device } : {}) }),
    );
  }

  /**
   * What is installed in `cacheDir`, with CLIP and GPT-2 loaded (once per folder). One that is
   * installed but cannot be loaded (an incomplete folder) is left out with a warning: the
   * inversion still runs, ranked by pixel MSE or decoded without the language model.
   */
  async resolve(cacheDir: string, o: { device?: string } = {}): Promise<InversionHelpers> {
    const device = o.device ? { device: o.device } : {};
    const warnings: string[] = [];
    const optional = async <T>(installed: boolean, load: () => Promise<T>, without: string): Promise<T | undefined> => {
      if (!installed) return undefined;
      try {
        return await load();
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
        warnings.push(`${e.message} ${without}`);
        return undefined;
      }
    };
    const captioner = CAPTIONER_ORDER.find((c) => captionerInstalled(c, cacheDir));
    const scorer = await optional(
      clipImageInstalled(cacheDir),
      () => this.scorer.get(cacheDir, () => loadClipImageScorer({ cacheDir, ...device })),
      'Candidates are ranked by pixel MSE.',
    );
    const lm = await optional(
      languageModelInstalled(cacheDir),
      () => this.lm.get(cacheDir, () => loadCausalLm({ cacheDir, offline: true, ...device })),
      'Decoding without the language model.',
    );
    return { ...(captioner ? { captioner } : {}), ...(scorer ? { scorer } : {}), ...(lm ? { lm } : {}), warnings };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.scorer.clear(), this.lm.clear(), this.captioner.clear()]);
  }
}
