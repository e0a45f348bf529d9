import { useId } from 'react';
import { METHOD_LABELS, type InversionMethod, type MethodInfo } from '../../shared/ipc/methods.js';

interface Props {
  value: InversionMethod;
  methods: readonly MethodInfo[];
  onChange: (method: InversionMethod) => void;
  testId?: string;
}

const HINTS: Record<InversionMethod, string> = {
  editor: 'caption → refine the text embedding → decode to text',
  ph2p: 'hard tokens optimised for noise prediction (PH2P)',
  pez: 'hard tokens optimised for CLIP image–text similarity (PEZ)',
  caption: "the captioner's text alone",
};

/** The inversion method; one whose model is missing is disabled, and the reasons are listed under the choice. */
export function MethodSelect({ value, methods, onChange, testId }: Props) {
  const id = useId();
  const unavailable = methods.filter((m) => !m.available);
  return (
    <div className="field method-select">
      <label className="field-label" htmlFor={id}>
        Method
      </label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as InversionMethod)} data-testid={testId}>
        {methods.map((m) => (
          <option key={m.method} value={m.method} disabled={!m.available} title={m.reason ?? HINTS[m.method]}>
            {METHOD_LABELS[m.method]}
            {m.available ? '' : ' (unavailable)'}
          </option>
        ))}
      </select>
      {unavailable.length > 0 && (
        <details className="small muted method-reasons" data-testid={testId ? `${testId}-reasons` : undefined}>
          <summary>{unavailable.map((m) => METHOD_LABELS[m.method]).join(', ')}: not installed</summary>
          <ul>
            {unavailable.map((m) => (
              <li key={m.method} data-method={m.method}>
                <strong>{METHOD_LABELS[m.method]}</strong>: {m.reason ?? 'not available'}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
