/**
 * `--ablate SETTING=V1,V2,...`: one setting swept as the paper's Tables 9–13 do, each value a
 * run of the methods it applies to (the others run once, at their defaults).
 *
 *   iterations   optimisation iterations (EDITOR, PH2P, PEZ)
 *   steps        EDITOR's sampler steps K through which the loss is differentiated
 *   init-length  EDITOR's start text cut to N tokens; PH2P's and PEZ's prompt length
 *   seed         the methods' seed (sampler noise, start tokens)
 *   captioner    the captioner of EDITOR's start text and of the caption baseline
 */
import { EngineError } from '../errors.js';
import { CAPTIONER_REPOS } from '../inversion/captioner.js';
import type { MethodName, MethodOptions } from '../inversion/methods/index.js';

export const ABLATION_SETTINGS = ['iterations', 'steps', 'init-length', 'seed', 'captioner'] as const;
export type AblationSetting = (typeof ABLATION_SETTINGS)[number];

export interface Ablation {
  setting: AblationSetting;
  values: string[];
}

const APPLIES: Record<AblationSetting, readonly MethodName[]> = {
  iterations: ['editor', 'ph2p', 'pez'],
  steps: ['editor'],
  'init-length': ['editor', 'ph2p', 'pez'],
  seed: ['editor', 'ph2p', 'pez'],
  captioner: ['editor', 'caption'],
};

export function ablationApplies(setting: AblationSetting, method: MethodName): boolean {
  return APPLIES[setting].includes(method);
}

/** `own` is the model set's own captioner; the others are CaptionerNames. */
export const ABLATION_CAPTIONERS = ['own', ...Object.keys(CAPTIONER_REPOS)];

/**
 * Parse `SETTING=V1,V2,...`.
 * @throws EngineError('INVALID_ARGUMENT') saying what is accepted
 */
export function parseAblation(arg: string): Ablation {
  const m = /^([a-z-]+)=(.+)$/.exec(arg.trim());
  if (!m || !(ABLATION_SETTINGS as readonly string[]).includes(m[1]!))
    throw new EngineError(
      'INVALID_ARGUMENT',
      `--ablate takes SETTING=V1,V2,... with SETTING one of ${ABLATION_SETTINGS.join(', ')} (got '${arg}')`,
    );
  const setting = m[1] as AblationSetting;
  const values = m[2]!
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (values.length === 0) throw new EngineError('INVALID_ARGUMENT', `--ablate ${setting}= needs at least one value`);
  if (new Set(values).size !== values.length) throw new EngineError('INVALID_ARGUMENT', `--ablate ${setting}: a value is listed twice`);
  for (const v of values) {
    if (setting === 'captioner') {
      if (!ABLATION_CAPTIONERS.includes(v))
        throw new EngineError('INVALID_ARGUMENT', `--ablate captioner: '${v}' is not one of ${ABLATION_CAPTIONERS.join(', ')}`);
    } else {
      const n = Number(v);
      const min = setting === 'seed' ? 0 : 1;
      if (!Number.isInteger(n) || n < min)
        throw new EngineError('INVALID_ARGUMENT', `--ablate ${setting}: '${v}' is not an integer ≥ ${min}`);
      if (setting === 'init-length' && n > 75)
        throw new EngineError('INVALID_ARGUMENT', `--ablate init-length: at most 75 tokens fit (got ${v})`);
    }
  }
  return { setting, values };
}

/** The method options one ablation value sets (captioner values are handled by the runner: they change the context). */
export function ablationOptions(setting: AblationSetting, value: string): Partial<MethodOptions> {
  switch (setting) {
    case 'iterations':
      return { iterations: Number(value) };
    case 'steps':
      return { editor: { steps: Number(value) } };
    case 'init-length':
      return { initLength: Number(value) };
    case 'seed':
      return { seed: Number(value) };
    case 'captioner':
      return {};
  }
}
