/**
 * Parents of a fusion or the starting individuals of an evolution session: library images (picked
 * from the Library's latest items) and typed prompts, in order, each labelled A, B, C…
 */
import { useState } from 'react';
import type { LibraryItem } from '../../../shared/ipc/library.js';
import { MAX_PROMPT_CHARS } from '../../../shared/ipc/limits.js';
import { useLibrary, useStudio } from '../../api/context.js';

export type ParentDraft = { key: number; kind: 'library'; item: LibraryItem } | { key: number; kind: 'prompt'; text: string };

/** Library images offered (newest first). */
const PICK_LIMIT = 30;

export const parentLetter = (i: number): string => (i < 26 ? String.fromCharCode(65 + i) : `P${i + 1}`);

/** A library item's prompt in a few words. */
export function itemPrompt(item: LibraryItem): string {
  return item.kind === 'generation' ? item.params.prompt : item.inversion.prompt;
}

let nextKey = 1;
export const newDraftKey = (): number => nextKey++;

interface Props {
  parents: ParentDraft[];
  onChange: (parents: ParentDraft[]) => void;
  max: number;
  /** data-testid prefix: `<prefix>-parent`, `<prefix>-add-library`, `<prefix>-pick-item`, `<prefix>-add-prompt`. */
  testId: string;
  disabled?: boolean;
  /** What the list is, for screen readers ("Parents", "Starting individuals"). */
  label: string;
}

export function ParentPicker({ parents, onChange, max, testId, disabled = false, label }: Props) {
  const { api } = useStudio();
  const library = useLibrary();
  const [picking, setPicking] = useState(false);
  const full = parents.length >= max;
  const add = (p: ParentDraft): void => {
    if (!full) onChange([...parents, p]);
  };
  const items = library.items.slice(0, PICK_LIMIT);
  return (
    <div className="parent-picker">
      <ol className="parent-list" aria-label={label}>
        {parents.map((p, i) => (
          <li
            key={p.key}
            className="parent-card"
            data-testid={`${testId}-parent`}
            data-kind={p.kind}
            data-id={p.kind === 'library' ? p.item.id : ''}
          >
            <span className="parent-letter" aria-hidden="true">
              {parentLetter(i)}
            </span>
            {p.kind === 'library' ? (
              <>
                <img src={api.imageUrl(p.item.file)} alt="" className="parent-thumb" />
                <span className="parent-text" title={itemPrompt(p.item)}>
                  {itemPrompt(p.item) || <span className="muted">(no prompt: inverted on the fly)</span>}
                </span>
              </>
            ) : (
              <input
                type="text"
                className="parent-text"
                value={p.text}
                maxLength={MAX_PROMPT_CHARS}
                placeholder="a prompt"
                aria-label={`Prompt ${parentLetter(i)}`}
                disabled={disabled}
                onChange={(e) => onChange(parents.map((q) => (q.key === p.key ? { ...p, text: e.target.value } : q)))}
                data-testid={`${testId}-prompt-input`}
              />
            )}
            <button
              type="button"
              className="btn-ghost small"
              aria-label={`Remove ${parentLetter(i)}`}
              title="Remove"
              disabled={disabled}
              onClick={() => onChange(parents.filter((q) => q.key !== p.key))}
              data-testid={`${testId}-remove`}
            >
              ✕
            </button>
          </li>
        ))}
      </ol>
      <div className="btn-row">
        <button
          type="button"
          className="small-btn secondary"
          onClick={() => setPicking((v) => !v)}
          disabled={disabled || full}
          aria-expanded={picking}
          data-testid={`${testId}-add-library`}
        >
          {picking ? 'Close the Library' : 'Add from Library'}
        </button>
        <button
          type="button"
          className="small-btn secondary"
          onClick={() => add({ key: newDraftKey(), kind: 'prompt', text: '' })}
          disabled={disabled || full}
          data-testid={`${testId}-add-prompt`}
        >
          Add a prompt
        </button>
        {full && <span className="muted small">at most {max}</span>}
      </div>
      {picking && (
        <div className="parent-pick" data-testid={`${testId}-library`}>
          {items.length === 0 ? (
            <p className="muted small">The Library is empty: generate or invert an image first, or type prompts.</p>
          ) : (
            <ul className="parent-pick-grid" aria-label="Library images">
              {items.map((item) => (
                <li key={item.id}>
                  <button
                    type="button"
                    className="tile"
                    title={itemPrompt(item)}
                    disabled={disabled || full}
                    onClick={() => add({ key: newDraftKey(), kind: 'library', item })}
                    data-testid={`${testId}-pick-item`}
                    data-id={item.id}
                  >
                    <img src={api.imageUrl(item.file)} alt={itemPrompt(item)} loading="lazy" />
                    <span className="tile-caption">{itemPrompt(item) || item.kind}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
