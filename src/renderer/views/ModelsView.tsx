import { useId, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import type { Provider } from '../../shared/ipc/common.js';
import type { ModelInfo } from '../../shared/ipc/models.js';
import { useEngine, useJobs, useModels, useSettings, useStudio } from '../api/context.js';
import { isTerminal, type JobView } from '../api/store.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { formatBytes, formatDuration } from '../lib/format.js';

const PROVIDERS: { value: Provider; label: string }[] = [
  { value: 'auto', label: 'Automatic (best available)' },
  { value: 'cpu', label: 'CPU' },
  { value: 'cuda', label: 'CUDA (NVIDIA, Linux/Windows)' },
  { value: 'dml', label: 'DirectML (Windows)' },
  { value: 'coreml', label: 'CoreML (macOS)' },
  { value: 'webgpu', label: 'WebGPU' },
];
const KIND_LABEL: Record<ModelInfo['kind'], string> = {
  diffusion: 'Diffusion model set',
  captioner: 'Captioner',
  clip: 'CLIP',
  'language-model': 'Language model',
  e2t: 'Embedding-to-text',
  other: 'Other',
};

export function ModelsView() {
  const studio = useStudio();
  const { api } = studio;
  const { models, loaded, error } = useModels();
  const settings = useSettings();
  const engine = useEngine();
  const jobs = useJobs();
  // Model id -> job id of downloads started from this window.
  const [downloads, setDownloads] = useState<Record<string, string>>({});
  const [importJob, setImportJob] = useState<string | undefined>();
  const [importPath, setImportPath] = useState('');
  const [notice, setNotice] = useState<string | undefined>();
  const ids = { path: useId(), provider: useId(), offline: useId(), cache: useId(), library: useId() };

  const jobFor = (m: ModelInfo): JobView | undefined => {
    const id = downloads[m.id];
    if (id) return jobs.get(id);
    // A download started elsewhere (another window, before a reload): match by label.
    for (const j of jobs.values())
      if (j.kind === 'downloadModel' && !isTerminal(j.state) && (j.label === m.id || j.label === m.name)) return j;
    return undefined;
  };

  const download = async (m: ModelInfo): Promise<void> => {
    setNotice(undefined);
    try {
      const { jobId } = await api.downloadModel(m.id);
      setDownloads((d) => ({ ...d, [m.id]: jobId }));
    } catch (e) {
      setNotice(`Download of ${m.name} failed to start: ${studioErrorMessage(e)}`);
    }
  };
  const importFolder = async (): Promise<void> => {
    setNotice(undefined);
    try {
      const { jobId } = await api.importModel(importPath.trim());
      setImportJob(jobId);
    } catch (e) {
      setNotice(`Import failed: ${studioErrorMessage(e)}`);
    }
  };
  const patch = async (p: Parameters<typeof api.setSettings>[0]): Promise<void> => {
    try {
      await studio.settings.patch(p);
    } catch (e) {
      setNotice(`Could not save the setting: ${studioErrorMessage(e)}`);
    }
  };

  const imp = importJob ? jobs.get(importJob) : undefined;
  const groups = (['diffusion', 'captioner', 'e2t', 'clip', 'language-model', 'other'] as const)
    .map((k) => ({ kind: k, items: models.filter((m) => m.kind === k) }))
    .filter((g) => g.items.length > 0);

  return (
    <div data-testid="view-models">
      <div className="view-head">
        <h1>Models</h1>
        <span className="muted">Model sets on this machine, downloads, and where the engine runs.</span>
        <span className="spacer" />
        <button type="button" className="secondary" onClick={() => void studio.models.load()}>
          Refresh
        </button>
      </div>
      {error && (
        <p className="error-text" role="alert">
          Could not list models: {error}
        </p>
      )}
      {notice && (
        <p className="error-text" role="alert" data-testid="models-notice">
          {notice}
        </p>
      )}
      {loaded && models.length === 0 && <p className="muted">No models known to the engine.</p>}

      {groups.map((g) => (
        <div className="panel" key={g.kind}>
          <h3>{KIND_LABEL[g.kind]}s</h3>
          <table className="models" data-testid={`models-${g.kind}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Source</th>
                <th scope="col">Size</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {g.items.map((m) => {
                const j = jobFor(m);
                const activeJob = j && !isTerminal(j.state) ? j : undefined;
                const partial = !m.installed && (m.downloadedBytes ?? 0) > 0;
                const inUse = settings?.modelSet === m.id;
                return (
                  <tr key={m.id} data-testid="model-row" data-model={m.id}>
                    <td>
                      <strong>{m.name}</strong>
                      {inUse && (
                        <span className="badge ok" style={{ marginLeft: 6 }}>
                          in use
                        </span>
                      )}
                      {m.description && <div className="muted small">{m.description}</div>}
                      {m.path && <div className="muted small mono">{m.path}</div>}
                    </td>
                    <td>{m.source}</td>
                    <td>{formatBytes(m.sizeBytes)}</td>
                    <td>
                      {activeJob ? (
                        <DownloadProgress job={activeJob} />
                      ) : m.installed ? (
                        <span className="badge ok">installed</span>
                      ) : partial ? (
                        <span className="badge warn">
                          partial {formatBytes(m.downloadedBytes)}
                          {m.sizeBytes ? ` of ${formatBytes(m.sizeBytes)}` : ''}
                        </span>
                      ) : (
                        <span className="badge">available</span>
                      )}
                      {j?.state === 'failed' && <div className="error-text small">{j.error?.message}</div>}
                    </td>
                    <td>
                      <div className="btn-row">
                        {activeJob ? (
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => void api.cancel(activeJob.jobId)}
                            data-testid="model-cancel"
                          >
                            Cancel
                          </button>
                        ) : (
                          !m.installed &&
                          m.source === 'hub' && (
                            <button
                              type="button"
                              className="secondary"
                              onClick={() => void download(m)}
                              disabled={settings?.offline}
                              title={settings?.offline ? 'Offline mode is on' : undefined}
                              data-testid="model-download"
                            >
                              {partial ? 'Resume' : 'Download'}
                            </button>
                          )
                        )}
                        {m.installed && m.kind === 'diffusion' && !inUse && (
                          <button type="button" className="secondary" onClick={() => void patch({ modelSet: m.id })}>
                            Use
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ))}

      <div className="panel">
        <h3>Import a model folder</h3>
        <p className="muted small">
          A Diffusers ONNX folder (<code>text_encoder/</code>, <code>unet/</code>, <code>vae_decoder/</code>, <code>tokenizer/</code>, …)
          {engine.transport === 'web' ? ' on the machine running the server.' : '.'}
        </p>
        <div className="field-row">
          <label className="field" htmlFor={ids.path} style={{ flex: 1 }}>
            <span>Folder path</span>
            <input
              id={ids.path}
              type="text"
              value={importPath}
              onChange={(e) => setImportPath(e.target.value)}
              placeholder="/path/to/stable-diffusion-v1-5-onnx"
              data-testid="import-path"
            />
          </label>
          <button
            type="button"
            className="secondary"
            onClick={() => void importFolder()}
            disabled={!importPath.trim() || (imp !== undefined && !isTerminal(imp.state))}
            data-testid="import-button"
          >
            Import
          </button>
        </div>
        {imp && (
          <p className={imp.state === 'failed' ? 'error-text' : 'muted'} role="status">
            {imp.state === 'done'
              ? 'Imported.'
              : imp.state === 'failed'
                ? `Import failed: ${imp.error?.message ?? ''}`
                : `Import ${imp.state}${imp.progress ? ` · ${imp.progress.phase}` : ''}…`}
          </p>
        )}
      </div>

      <div className="panel">
        <h3>Settings</h3>
        {settings ? (
          <div className="settings-grid">
            <label className="field" htmlFor={ids.provider}>
              <span>Execution provider</span>
              <select
                id={ids.provider}
                value={settings.provider}
                onChange={(e) => void patch({ provider: e.target.value as Provider })}
                data-testid="settings-provider"
              >
                {PROVIDERS.map((p) => (
                  <option key={p.value} value={p.value}>
                    {p.label}
                  </option>
                ))}
              </select>
            </label>
            <label className="check" htmlFor={ids.offline}>
              <input
                id={ids.offline}
                type="checkbox"
                checked={settings.offline}
                onChange={(e) => void patch({ offline: e.target.checked })}
                data-testid="settings-offline"
              />
              <span>Offline (never contact a model hub)</span>
            </label>
            <PathSetting id={ids.cache} label="Model cache folder" value={settings.cacheDir} onSave={(v) => void patch({ cacheDir: v })} />
            <PathSetting
              id={ids.library}
              label="Library folder"
              value={settings.libraryDir}
              placeholder={engine.libraryDir}
              onSave={(v) => void patch({ libraryDir: v })}
            />
          </div>
        ) : (
          <p className="muted">Loading settings…</p>
        )}
        <p className="muted small">
          CUDA on Linux needs onnxruntime's CUDA libraries (opt-in at install); DirectML and CoreML work with the default install. Changes
          apply to the next job.
        </p>
      </div>
    </div>
  );
}

function DownloadProgress({ job }: { job: JobView }) {
  const p = job.progress;
  const total = p?.totalBytes ?? 0;
  const done = p?.bytes ?? 0;
  return (
    <div data-testid="model-progress">
      <div className="small">
        {job.state === 'queued' ? 'queued' : (p?.phase ?? 'starting')}
        {total > 0 ? ` · ${formatBytes(done)} of ${formatBytes(total)}` : ''}
        {p?.bytesPerSecond ? ` · ${formatBytes(p.bytesPerSecond)}/s` : ''}
        {p?.etaSeconds !== undefined ? ` · ${formatDuration(p.etaSeconds)} left` : ''}
      </div>
      <ProgressBar value={total > 0 ? done : (p?.step ?? 0)} max={total > 0 ? total : (p?.total ?? 0)} label="Download progress" />
    </div>
  );
}

function PathSetting({
  id,
  label,
  value,
  placeholder,
  onSave,
}: {
  id: string;
  label: string;
  value: string | null;
  placeholder?: string | undefined;
  onSave: (v: string | null) => void;
}) {
  const [draft, setDraft] = useState(value ?? '');
  const dirty = draft !== (value ?? '');
  return (
    <div className="field">
      <label htmlFor={id} className="field-label">
        {label}
      </label>
      <div className="btn-row">
        <input
          id={id}
          type="text"
          value={draft}
          placeholder={placeholder ?? 'default'}
          onChange={(e) => setDraft(e.target.value)}
          style={{ flex: 1 }}
        />
        <button type="button" className="secondary" disabled={!dirty} onClick={() => onSave(draft.trim() ? draft.trim() : null)}>
          Save
        </button>
      </div>
    </div>
  );
}
