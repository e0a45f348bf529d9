import { useId } from 'react';
import { useModels, useSettings } from '../api/context.js';

interface Props {
  value: string | undefined;
  onChange: (modelSet: string | undefined) => void;
  testId?: string;
}

/** Diffusion model set choice: installed sets, plus the settings' current one. Empty = settings default. */
export function ModelSelect({ value, onChange, testId }: Props) {
  const id = useId();
  const { models } = useModels();
  const settings = useSettings();
  const options = models.filter((m) => m.kind === 'diffusion' && m.installed);
  const current = settings?.modelSet;
  const known = new Set(options.map((m) => m.id));
  return (
    <label className="field" htmlFor={id}>
      <span>Model</span>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)} data-testid={testId}>
        <option value="">Default{current ? ` (${current})` : ''}</option>
        {options.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
        {value && !known.has(value) && <option value={value}>{value}</option>}
      </select>
    </label>
  );
}
