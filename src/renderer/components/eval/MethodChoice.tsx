import { METHOD_LABELS, type InversionMethod, type MethodInfo } from '../../../shared/ipc/methods.js';

interface Props {
  methods: readonly MethodInfo[];
  chosen: ReadonlySet<InversionMethod>;
  onChange: (next: Set<InversionMethod>) => void;
  /** The engine has said which can run (before that only EDITOR is offered). */
  loaded: boolean;
}

/** One checkbox per method; a method that cannot run is greyed out with the reason (what to install). */
export function MethodChoice({ methods, chosen, onChange, loaded }: Props) {
  // One reason for all (the model set itself is missing): said once, under the list.
  const reasons = new Set(methods.map((m) => (m.available ? undefined : m.reason)));
  const shared = methods.length > 1 && reasons.size === 1 ? [...reasons][0] : undefined;
  return (
    <fieldset className="method-choice" data-testid="eval-methods" data-loaded={loaded}>
      <legend>Methods</legend>
      {methods.map((m) => (
        <label key={m.method} className={`check${m.available ? '' : ' unavailable'}`} title={m.reason} data-method={m.method}>
          <input
            type="checkbox"
            checked={m.available && chosen.has(m.method)}
            disabled={!m.available}
            onChange={(e) => {
              const next = new Set(chosen);
              if (e.target.checked) next.add(m.method);
              else next.delete(m.method);
              onChange(next);
            }}
            data-testid={`eval-method-${m.method}`}
          />
          <span>
            {METHOD_LABELS[m.method]}
            {!m.available && m.reason && !shared && <span className="muted small method-reason"> — {m.reason}</span>}
          </span>
        </label>
      ))}
      {shared && (
        <p className="warn-text small" data-testid="eval-methods-reason">
          {shared}
        </p>
      )}
    </fieldset>
  );
}
