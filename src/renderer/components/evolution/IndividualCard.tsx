/**
 * One individual of the current generation (the Evolve view's grid): its image, its prompt with
 * clickable words (click to lock or unlock: its children keep locked words), seed, operator and
 * fitness; pick it as a favourite for the next breed, or re-invert its image.
 */
import type { EvolutionIndividual } from '../../../shared/ipc/evolution.js';
import { useStudio } from '../../api/context.js';
import { lockedKeys, promptPieces, toggleLock } from './prompt-words.js';

export const OPERATOR_LABELS: Record<EvolutionIndividual['operator'], string> = {
  init: 'start',
  'init-image': 'start (image)',
  'prompt-crossover': 'crossover',
  'embedding-crossover': 'embedding crossover',
  'word-mutation': 'mutation',
  'gaussian-mutation': 'gaussian mutation',
  reinvert: 're-inverted',
};

interface Props {
  individual: EvolutionIndividual;
  picked: boolean;
  /** Carried over from an earlier generation (an elite, a branch's copy). */
  carried: boolean;
  busy: boolean;
  onPick: () => void;
  onLock: (words: string[]) => void;
  onReinvert: () => void;
  onSelect: () => void;
}

export function IndividualCard({ individual: i, picked, carried, busy, onPick, onLock, onReinvert, onSelect }: Props) {
  const { api } = useStudio();
  const locked = lockedKeys(i.locks);
  return (
    <li
      className={`evolve-card${picked ? ' picked' : ''}`}
      data-testid="evolve-card"
      data-id={i.id}
      data-picked={picked ? 'true' : 'false'}
      data-locks={i.locks.join('|')}
    >
      <button
        type="button"
        className="evolve-card-image"
        onClick={onPick}
        aria-pressed={picked}
        title={picked ? 'Picked: click to unpick' : 'Pick as a favourite'}
      >
        {i.image ? <img src={api.imageUrl(i.image)} alt={i.prompt} /> : <span className="muted small">no image</span>}
        {picked && (
          <span className="evolve-pick-mark" aria-hidden="true">
            ♥
          </span>
        )}
      </button>
      <p className="evolve-prompt" aria-label={`Prompt of ${i.id}: click a word to lock it`}>
        {promptPieces(i.prompt).map((p, k) =>
          p.kind === 'text' ? (
            <span key={k}>{p.text}</span>
          ) : (
            <button
              key={k}
              type="button"
              className={`evolve-word${locked.has(p.key) ? ' locked' : ''}`}
              disabled={busy}
              aria-pressed={locked.has(p.key)}
              title={locked.has(p.key) ? 'Locked: its children keep this word (click to unlock)' : 'Lock this word: its children keep it'}
              onClick={() => onLock(toggleLock(i.locks, p.key, p.text))}
              data-testid="evolve-word"
            >
              {p.text}
            </button>
          ),
        )}
      </p>
      <div className="evolve-meta small">
        <button type="button" className="btn-ghost mono" onClick={onSelect} title="Show in the lineage tree">
          {i.id}
        </button>
        <span className="badge">{OPERATOR_LABELS[i.operator]}</span>
        {carried && <span className="badge">carried</span>}
        <span className="mono muted">seed {i.seed}</span>
        {i.fitness !== undefined && <span className="mono">fit {i.fitness.toFixed(3)}</span>}
      </div>
      <div className="btn-row">
        <button type="button" className={`small-btn ${picked ? 'primary' : 'secondary'}`} onClick={onPick} data-testid="evolve-pick">
          {picked ? '♥ Picked' : '♡ Pick'}
        </button>
        <button
          type="button"
          className="small-btn secondary"
          onClick={onReinvert}
          disabled={busy}
          data-testid="evolve-reinvert"
          title="Invert this image (EDITOR): the recovered prompt joins this generation"
        >
          Re-invert
        </button>
      </div>
    </li>
  );
}
