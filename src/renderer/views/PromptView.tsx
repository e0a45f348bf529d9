import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import { studioErrorMessage, type TokenizeResult } from '../../shared/api.js';
import type { GenerateResult } from '../../shared/ipc/jobs.js';
import type { GenerationParams, LibraryItem } from '../../shared/ipc/library.js';
import type { SchedulerName } from '../../shared/ipc/common.js';
import { useJob, useLibrary, useSettings, useStudio } from '../api/context.js';
import { isTerminal } from '../api/store.js';
import { AttentionImage, libraryAttention } from '../components/attention/AttentionImage.js';
import { ModelSelect } from '../components/ModelSelect.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { formatDuration } from '../lib/format.js';
import { navigate, useNav } from '../nav.js';
import { PromptEditor, type Mark } from '../prompt/PromptEditor.js';
import { droppedSourceRanges, joinDoc, negativeOffset, parseEngineText, splitDoc, withoutComments } from '../../shared/prompt-syntax.js';

const SCHEDULERS: { value: SchedulerName; label: string }[] = [
  { value: 'ddim', label: 'DDIM' },
  { value: 'euler', label: 'Euler' },
  { value: 'lms', label: 'LMS' },
  { value: 'turbo', label: 'Turbo (1-4 steps)' },
];
const SIZES = [64, 128, 256, 384, 512, 576, 640, 768, 896, 1024];
const DOC_KEY = 'inversion-studio.prompt.doc';
const PARAMS_KEY = 'inversion-studio.prompt.params';
const EXAMPLE = 'a lighthouse on a cliff at dusk, (dramatic sky:1.2), oil painting\nNegative prompt: blurry, lowres';

interface Params {
  seed: number;
  steps: number;
  scheduler: SchedulerName;
  guidance: number;
  width: number;
  height: number;
  modelSet: string | undefined;
  /** Ask for the cross-attention maps of the prompt's words with each generation. */
  attentionMaps: boolean;
}

let handledIntent = 0;

function load<T>(key: string): T | undefined {
  try {
    const s = localStorage.getItem(key);
    return s ? (JSON.parse(s) as T) : undefined;
  } catch {
    return undefined;
  }
}
function save(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or disabled: the draft is just not kept
  }
}

/** Token count of one prompt section, and which source ranges are past the limit. */
interface Count {
  result?: TokenizeResult;
  marks: Mark[];
  error?: string;
}

export function PromptView({ active }: { active: boolean }) {
  const studio = useStudio();
  const { api } = studio;
  const settings = useSettings();
  const library = useLibrary();
  const nav = useNav();
  const ids = { seed: useId(), steps: useId(), scheduler: useId(), guidance: useId(), width: useId(), height: useId(), neg: useId() };

  const [doc, setDoc] = useState<string>(() => load<string>(DOC_KEY) ?? EXAMPLE);
  const [params, setParams] = useState<Params>(() => {
    const d = settings?.defaults.generate;
    const stored = load<Partial<Params>>(PARAMS_KEY) ?? {};
    return {
      seed: d?.seed ?? 0,
      steps: d?.steps ?? 20,
      scheduler: d?.scheduler ?? 'ddim',
      guidance: d?.guidance ?? 7.5,
      width: d?.width ?? 512,
      height: d?.height ?? 512,
      modelSet: undefined,
      attentionMaps: true,
      ...stored,
    };
  });
  // Text pushed into the editor from outside it (intents, the negative-prompt field).
  const [replace, setReplace] = useState<{ text: string; seq: number } | undefined>();
  const pushDoc = (text: string): void => {
    setDoc(text);
    setReplace((r) => ({ text, seq: (r?.seq ?? 0) + 1 }));
  };
  const [jobId, setJobId] = useState<string | undefined>();
  const [submitError, setSubmitError] = useState<string | undefined>();
  const [shown, setShown] = useState<LibraryItem | undefined>();
  const job = useJob(jobId);

  useEffect(() => save(DOC_KEY, doc), [doc]);
  useEffect(() => save(PARAMS_KEY, params), [params]);

  // "Open in Prompt editor" from Invert or Library.
  useEffect(() => {
    const intent = nav.intent;
    if (!intent || intent.view !== 'prompt' || intent.seq === handledIntent) return;
    handledIntent = intent.seq;
    pushDoc(joinDoc({ positive: intent.prompt, negative: intent.negativePrompt ?? '' }));
    const p = intent.params;
    if (p) {
      setParams((old) => ({
        ...old,
        ...(p.seed !== undefined ? { seed: p.seed } : {}),
        ...(p.steps !== undefined ? { steps: p.steps } : {}),
        ...(p.scheduler !== undefined ? { scheduler: p.scheduler } : {}),
        ...(p.guidance !== undefined ? { guidance: p.guidance } : {}),
        ...(p.width !== undefined ? { width: p.width } : {}),
        ...(p.height !== undefined ? { height: p.height } : {}),
        ...(p.model !== undefined ? { modelSet: p.model } : {}),
      }));
    }
    setShown(undefined);
  }, [nav.intent]);

  const { positive, negative } = useMemo(() => splitDoc(doc), [doc]);
  const parsedPos = useMemo(() => parseEngineText(positive), [positive]);
  const negStart = useMemo(() => negativeOffset(doc), [doc]);
  const parsedNeg = useMemo(() => parseEngineText(negative), [negative]);
  // The engine reads the prompt language itself (weights are applied there); comments stay in the editor.
  const sentPos = useMemo(() => withoutComments(positive), [positive]);
  const sentNeg = useMemo(() => withoutComments(negative), [negative]);
  const modelForTokens = params.modelSet;

  const posCount = useTokenCount(api, parsedPos, 0, modelForTokens, active);
  const negCount = useTokenCount(api, parsedNeg, Math.max(0, negStart), modelForTokens, active);

  const marks = useMemo<Mark[]>(() => {
    const problems = [
      ...parsedPos.problems.map((p) => ({ start: p.start, end: p.end, kind: 'problem' as const, message: p.message })),
      ...(negStart >= 0
        ? parsedNeg.problems.map((p) => ({
            start: p.start + negStart,
            end: p.end + negStart,
            kind: 'problem' as const,
            message: p.message,
          }))
        : []),
    ];
    return [...posCount.marks, ...(negStart >= 0 ? negCount.marks : []), ...problems];
  }, [posCount.marks, negCount.marks, parsedPos, parsedNeg, negStart]);

  // The negative-prompt field mirrors the document's negative section; a local draft keeps
  // trailing spaces while typing.
  const [negDraft, setNegDraft] = useState(negative);
  useEffect(() => {
    if (negDraft.trim() !== negative) setNegDraft(negative);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only when the document changes, not while typing
  }, [negative]);
  const onNegChange = (v: string): void => {
    setNegDraft(v);
    pushDoc(joinDoc({ positive, negative: v }));
  };

  const running = job && !isTerminal(job.state);
  const generate = useCallback(async (): Promise<void> => {
    setSubmitError(undefined);
    setShown(undefined);
    if (!parsedPos.plain.trim()) {
      setSubmitError('Write a prompt first.');
      return;
    }
    try {
      const { jobId: id } = await api.generate({
        prompt: sentPos,
        negativePrompt: sentNeg,
        seed: params.seed,
        steps: params.steps,
        scheduler: params.scheduler,
        guidance: params.guidance,
        width: params.width,
        height: params.height,
        ...(params.modelSet ? { modelSet: params.modelSet } : {}),
        ...(params.attentionMaps ? { attentionMaps: true } : {}),
      });
      setJobId(id);
    } catch (e) {
      setSubmitError(studioErrorMessage(e));
    }
  }, [api, parsedPos.plain, sentPos, sentNeg, params]);

  const result = job?.result?.kind === 'generate' ? (job.result as GenerateResult) : undefined;
  const resultItem = shown ?? result?.item;
  const history = useMemo(
    () =>
      library.items.filter(
        (i): i is Extract<LibraryItem, { kind: 'generation' }> =>
          i.kind === 'generation' && (i.params.prompt === sentPos || i.params.prompt === parsedPos.plain),
      ),
    [library.items, sentPos, parsedPos.plain],
  );
  const p = job?.progress;
  const set = <K extends keyof Params>(k: K, v: Params[K]): void => setParams((old) => ({ ...old, [k]: v }));
  const num = (s: string, fallback: number): number => {
    const n = Number(s);
    return Number.isFinite(n) ? n : fallback;
  };

  const pc = posCount.result;
  const over = pc ? pc.truncated : false;

  return (
    <div data-testid="view-prompt">
      <div className="view-head">
        <h1>Prompt</h1>
        <span className="muted">Write, weigh and regenerate. Ctrl+Enter generates.</span>
      </div>
      <div className="prompt-layout">
        <div>
          <PromptEditor
            value={doc}
            replace={replace}
            onChange={setDoc}
            marks={marks}
            onSubmit={() => void generate()}
            label="Prompt (positive prompt, then an optional 'Negative prompt:' line)"
          />
          <div className={`token-counter${over ? ' over' : ''}`} data-testid="token-counter" aria-live="polite">
            <span
              className="count"
              data-testid="token-count"
              data-count={pc?.count ?? ''}
              title="CLIP reads 77 positions: a start token, 75 prompt tokens and an end token"
            >
              {pc ? `${pc.count} / ${pc.limit}` : '… / 75'}
            </span>
            <span className="muted">tokens (77 with start/end)</span>
            {pc?.truncated && (
              <span className="error-text" data-testid="token-dropped">
                dropped ({pc.droppedWords.length} word{pc.droppedWords.length === 1 ? '' : 's'}): {abbreviateWords(pc.droppedWords)}
              </span>
            )}
            {negCount.result && negative && (
              <span className="muted">
                · negative {negCount.result.count} / {negCount.result.limit}
              </span>
            )}
            {parsedPos.chunks > 1 && (
              <span className="warn-text">BREAK: {parsedPos.chunks} chunks (this engine encodes one 77-token context)</span>
            )}
            {posCount.error && <span className="warn-text">token counter unavailable: {posCount.error}</span>}
          </div>
          <p className="small muted" data-testid="engine-text">
            Engine text: <span className="mono">{parsedPos.plain || '–'}</span>
          </p>
          <label className="field" htmlFor={ids.neg}>
            <span>Negative prompt</span>
            <textarea
              id={ids.neg}
              rows={2}
              value={negDraft}
              onChange={(e) => onNegChange(e.target.value)}
              data-testid="negative-prompt"
              placeholder="What the image should not contain"
            />
          </label>
          <details className="syntax-help" style={{ marginTop: 8 }}>
            <summary>Prompt syntax</summary>
            <ul>
              <li>
                <code>(word:1.3)</code> explicit weight, <code>(word)</code> ×1.1, <code>[word]</code> ÷1.1, <code>\(</code> a literal
                bracket
              </li>
              <li>
                <code>BREAK</code> separates (this engine reads one 77-token window); <code>// comment</code> lines are ignored
              </li>
              <li>
                A line starting <code>Negative prompt:</code> begins the negative prompt (A1111 style). Words past the token limit are
                struck through.
              </li>
              <li>The engine scales each token&apos;s text embedding by its weight and keeps the overall mean (as A1111).</li>
            </ul>
          </details>

          <div className="panel" style={{ marginTop: 12 }}>
            <div className="field-row">
              <label className="field" htmlFor={ids.seed}>
                <span>Seed</span>
                <input
                  id={ids.seed}
                  type="number"
                  min={0}
                  max={4294967295}
                  value={params.seed}
                  onChange={(e) => set('seed', Math.max(0, Math.floor(num(e.target.value, 0))))}
                  data-testid="gen-seed"
                />
              </label>
              <button
                type="button"
                className="secondary"
                onClick={() => set('seed', Math.floor(Math.random() * 0xffffffff))}
                title="Pick a random seed"
                data-testid="gen-random-seed"
              >
                Random
              </button>
              <label className="field" htmlFor={ids.steps}>
                <span>Steps</span>
                <input
                  id={ids.steps}
                  type="number"
                  min={1}
                  max={150}
                  value={params.steps}
                  onChange={(e) => set('steps', Math.min(150, Math.max(1, Math.floor(num(e.target.value, 20)))))}
                  data-testid="gen-steps"
                />
              </label>
              <label className="field" htmlFor={ids.scheduler}>
                <span>Scheduler</span>
                <select
                  id={ids.scheduler}
                  value={params.scheduler}
                  onChange={(e) => set('scheduler', e.target.value as SchedulerName)}
                  data-testid="gen-scheduler"
                >
                  {SCHEDULERS.map((s) => (
                    <option key={s.value} value={s.value}>
                      {s.label}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field" htmlFor={ids.guidance}>
                <span>Guidance</span>
                <input
                  id={ids.guidance}
                  type="number"
                  min={0}
                  max={30}
                  step={0.5}
                  value={params.guidance}
                  onChange={(e) => set('guidance', Math.min(30, Math.max(0, num(e.target.value, 7.5))))}
                  data-testid="gen-guidance"
                />
              </label>
              <label className="field" htmlFor={ids.width}>
                <span>Width</span>
                <select id={ids.width} value={params.width} onChange={(e) => set('width', Number(e.target.value))} data-testid="gen-width">
                  {withValue(SIZES, params.width).map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field" htmlFor={ids.height}>
                <span>Height</span>
                <select
                  id={ids.height}
                  value={params.height}
                  onChange={(e) => set('height', Number(e.target.value))}
                  data-testid="gen-height"
                >
                  {withValue(SIZES, params.height).map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              </label>
              <ModelSelect value={params.modelSet} onChange={(m) => set('modelSet', m)} testId="gen-model" />
            </div>
            <label className="check small" style={{ marginTop: 8 }} title="Captures where the model attends to each word while it samples">
              <input
                type="checkbox"
                checked={params.attentionMaps}
                onChange={(e) => set('attentionMaps', e.target.checked)}
                data-testid="gen-attention"
              />{' '}
              Attention maps (per-word overlay on the result)
            </label>
            <div className="btn-row" style={{ marginTop: 12 }}>
              <button type="button" className="primary" onClick={() => void generate()} disabled={!!running} data-testid="generate">
                Generate
              </button>
              <button
                type="button"
                className="secondary"
                onClick={() => jobId && void api.cancel(jobId)}
                disabled={!running}
                data-testid="generate-cancel"
              >
                Cancel
              </button>
            </div>
            {submitError && (
              <p className="error-text" role="alert" data-testid="generate-error">
                {submitError}
              </p>
            )}
          </div>
        </div>

        <div>
          <div className="panel" data-testid="generate-panel" data-state={job?.state ?? (jobId ? 'queued' : 'idle')} data-job={jobId ?? ''}>
            {job && (running || job.state !== 'done') && (
              <>
                <div className="stat-row" aria-live="polite">
                  <span>
                    <strong data-testid="generate-phase">{job.state === 'queued' ? 'queued' : (p?.phase ?? job.state)}</strong>
                  </span>
                  {p && (
                    <span>
                      Step{' '}
                      <strong data-testid="generate-step">
                        {p.step} / {p.total}
                      </strong>
                    </span>
                  )}
                  {running && (
                    <span>
                      ETA <strong>{formatDuration(p?.etaSeconds)}</strong>
                    </span>
                  )}
                </div>
                {running && <ProgressBar value={p?.step ?? 0} max={p?.total ?? 0} label="Generation progress" testId="generate-progress" />}
                {job.error && (
                  <p className="error-text" role="alert" data-testid="generate-error">
                    {job.error.message} <span className="muted">({job.error.code})</span>
                  </p>
                )}
                {job.state === 'cancelled' && <p className="warn-text">Cancelled.</p>}
              </>
            )}
            <AttentionImage
              attention={
                resultItem
                  ? libraryAttention(resultItem.id, undefined, result?.item.id === resultItem.id ? result.attention : undefined)
                  : undefined
              }
              src={resultItem ? api.imageUrl(resultItem.file) : running ? job?.preview : undefined}
              alt={resultItem ? `Generated: ${resultItem.kind === 'generation' ? resultItem.params.prompt : ''}` : 'Generation preview'}
              testId="generate-result"
              placeholder={running ? 'Generating…' : 'Your image appears here'}
              pixelated
              {...(resultItem?.kind === 'generation'
                ? {
                    caption: `seed ${resultItem.params.seed} · ${resultItem.params.steps} steps · ${resultItem.params.scheduler} · ${resultItem.width}×${resultItem.height}`,
                  }
                : {})}
            />
            {result?.warnings.map((w) => (
              <p key={w} className="warn-text small">
                {w}
              </p>
            ))}
            {result && !shown && <p className="muted small">Generated in {formatDuration(result.seconds)}.</p>}
            {resultItem && (
              <button
                type="button"
                className="secondary"
                onClick={() => navigate('edit', { view: 'edit', item: resultItem })}
                data-testid="generate-edit"
                title="Edit this image by editing its prompt (the Edit view)"
              >
                Edit this image
              </button>
            )}
          </div>

          <div className="panel">
            <h3>History of this prompt ({history.length})</h3>
            {history.length === 0 ? (
              <p className="muted small">Generations of exactly this prompt show up here.</p>
            ) : (
              <ul className="history" data-testid="prompt-history">
                {history.map((item) => (
                  <li key={item.id}>
                    <button
                      type="button"
                      className={resultItem?.id === item.id ? 'selected' : ''}
                      onClick={() => {
                        setShown(item);
                        applyParams(item.params);
                      }}
                      title={`seed ${item.params.seed}, ${item.params.steps} steps, ${item.params.scheduler}, guidance ${item.params.guidance}`}
                      aria-label={`Show generation with seed ${item.params.seed}`}
                    >
                      <img src={api.imageUrl(item.file)} alt="" loading="lazy" />
                      <div className="meta">
                        seed {item.params.seed} · {item.params.steps}
                      </div>
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
        </div>
      </div>
    </div>
  );

  function applyParams(g: GenerationParams): void {
    setParams((old) => ({
      ...old,
      seed: g.seed,
      steps: g.steps,
      scheduler: g.scheduler,
      guidance: g.guidance,
      width: g.width,
      height: g.height,
      modelSet: g.model === settings?.modelSet ? old.modelSet : g.model,
    }));
  }
}

/** "a b c d e f g h … y z" for long lists: the start and the end of what is cut off. */
function abbreviateWords(words: readonly string[]): string {
  return words.length <= 10 ? words.join(' ') : `${words.slice(0, 8).join(' ')} … ${words.slice(-2).join(' ')}`;
}

function withValue(list: number[], v: number): number[] {
  return list.includes(v) ? list : [...list, v].sort((a, b) => a - b);
}

/**
 * Debounced live token count of a parsed prompt section. `base` is the section's offset in the
 * document, so the returned marks are document offsets.
 */
function useTokenCount(
  api: ReturnType<typeof useStudio>['api'],
  parsed: ReturnType<typeof parseEngineText>,
  base: number,
  modelSet: string | undefined,
  active: boolean,
): Count {
  const [count, setCount] = useState<Count>({ marks: [] });
  const seq = useRef(0);
  useEffect(() => {
    if (!active) return;
    const text = parsed.plain;
    const mine = ++seq.current;
    if (!text) {
      setCount({ marks: [] });
      return;
    }
    const t = setTimeout(() => {
      api
        .tokenize(text, modelSet)
        .then((result) => {
          if (mine !== seq.current) return;
          const marks: Mark[] = droppedSourceRanges(parsed, result).map((r) => ({
            start: r.start + base,
            end: r.end + base,
            kind: 'dropped',
            message: `Past CLIP's ${result.limit + 2}-token context: the model does not see this.`,
          }));
          setCount({ result, marks });
        })
        .catch((e: unknown) => {
          if (mine === seq.current) setCount({ marks: [], error: studioErrorMessage(e) });
        });
    }, 200);
    return () => clearTimeout(t);
  }, [api, parsed, base, modelSet, active]);
  return count;
}
