/**
 * The optional models an inversion in the studio uses when the user has installed them (Models
 * view or `inversion-studio models download`), never downloading anything: a captioner for the
 * start text (Florence-2, else ViT-GPT2), CLIP ViT-L/14 to rank candidates, GPT-2 for the
 * decoder's proposals and fluency term. Each stays loaded per cache folder once used (they are
 * large and every inversion would load them again).
 */
import type { LanguageModel } from '../engine/e2t/language-model.js';
import { languageModelInstalled, loadCausalLm } from '../engine/e2t/language-model.js';
import { captionerInstalled, CAPTIONER_REPOS, loadCaptioner, type Captioner, type CaptionerName } from '../engine/inversion/captioner.js';
import type { ImageScorer } from '../engine/inversion/invert.js';
import { clipImageInstalled, loadClipImageScorer } from '../engine/metrics/clip-image.js';

export interface InversionHelpers {
  /** The installed captioner to start from, if any (Florence-2 preferred, as the reference). */
  captioner?: CaptionerName;
  scorer?: ImageScorer;
  lm?: LanguageModel;
}

/** Said when an inversion without a start text finds no captioner. */
export const NO_CAPTIONER_WARNING = `No captioner is installed (${CAPTIONER_REPOS.florence2}), so the inversion started from random words. Give a starting text, or install the captioner in the Models view.`;

const CAPTIONER_ORDER: CaptionerName[] = ['florence2', 'vit-gpt2'];

export class InversionHelperCache {
  private scorer?: { cacheDir: string; value: Promise<ImageScorer & { release(): Promise<void> }> };
  private lm?: { cacheDir: string; value: Promise<LanguageModel> };
  private captioner?: { key: string; value: Promise<Captioner> };

  /** The captioner `resolve` reported, loaded once per cache folder and name. */
  async loadCaptioner(cacheDir: string, name: CaptionerName, o: { device?: string } = {}): Promise<Captioner> {
    const key = `${cacheDir}|${name}`;
    if (this.captioner?.key !== key) this.captioner = { key, value: loadCaptioner({ cacheDir, captioner: name, offline: true, ...(o.device ? { device: o.device } : {}) }) };
    return this.captioner.value.catch((e: unknown) => {
      this.captioner = undefined;
      throw e;
    });
  }

  /** What is installed in `cacheDir`, with CLIP and GPT-2 loaded (once per folder). */
  async resolve(cacheDir: string, o: { device?: string } = {}): Promise<InversionHelpers> {
    const captioner = CAPTIONER_ORDER.find((c) => captionerInstalled(c, cacheDir));
    let scorer: InversionHelpers['scorer'];
    if (clipImageInstalled(cacheDir)) {
      if (this.scorer?.cacheDir !== cacheDir) {
        const old = this.scorer;
        this.scorer = { cacheDir, value: loadClipImageScorer({ cacheDir, ...(o.device ? { device: o.device } : {}) }) };
        if (old) await (await old.value.catch(() => undefined))?.release();
      }
      scorer = await this.scorer.value.catch((e: unknown) => {
        this.scorer = undefined;
        throw e;
      });
    }
    let lm: LanguageModel | undefined;
    if (languageModelInstalled(cacheDir)) {
      if (this.lm?.cacheDir !== cacheDir) this.lm = { cacheDir, value: loadCausalLm({ cacheDir, offline: true, ...(o.device ? { device: o.device } : {}) }) };
      lm = await this.lm.value.catch((e: unknown) => {
        this.lm = undefined;
        throw e;
      });
    }
    return { ...(captioner ? { captioner } : {}), ...(scorer ? { scorer } : {}), ...(lm ? { lm } : {}) };
  }

  async dispose(): Promise<void> {
    const s = this.scorer;
    this.scorer = undefined;
    this.lm = undefined;
    this.captioner = undefined;
    if (s) await (await s.value.catch(() => undefined))?.release();
  }
}
