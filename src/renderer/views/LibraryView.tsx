import { useEffect, useId, useMemo, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import type { LibraryItem } from '../../shared/ipc/library.js';
import { useLibrary, useStudio } from '../api/context.js';
import { AttentionImage, libraryAttention } from '../components/attention/AttentionImage.js';
import { EditDetails } from '../components/edit/EditDetails.js';
import { ImageFrame } from '../components/ImageFrame.js';
import { LossChart } from '../components/LossChart.js';
import { copyText } from '../lib/files.js';
import { formatDate, formatDuration, formatNumber } from '../lib/format.js';
import { navigate, useNav } from '../nav.js';

type Filter = 'all' | 'generation' | 'inversion';

let handledIntent = 0;

function promptOf(item: LibraryItem): string {
  return item.kind === 'generation' ? item.params.prompt : item.inversion.prompt;
}

export function LibraryView() {
  const { api, library: store } = useStudio();
  const library = useLibrary();
  const [filter, setFilter] = useState<Filter>('all');
  const [query, setQuery] = useState('');
  const [selectedId, setSelectedId] = useState<string | undefined>();
  const searchId = useId();
  const filterId = useId();
  const nav = useNav();

  // "Show in Library" (an edit's result): select that item.
  useEffect(() => {
    const intent = nav.intent;
    if (intent?.view !== 'library' || intent.seq === handledIntent) return;
    handledIntent = intent.seq;
    setSelectedId(intent.select);
  }, [nav.intent]);

  const items = useMemo(() => {
    const q = query.trim().toLowerCase();
    return library.items.filter(
      (i) =>
        (filter === 'all' || i.kind === filter) &&
        (!q || promptOf(i).toLowerCase().includes(q) || (i.title ?? '').toLowerCase().includes(q)),
    );
  }, [library.items, filter, query]);
  const selected = library.items.find((i) => i.id === selectedId);

  return (
    <div data-testid="view-library">
      <div className="view-head">
        <h1>Library</h1>
        <span className="muted">
          {library.items.length} item{library.items.length === 1 ? '' : 's'} · every generation and inversion, saved as PNG with its
          parameters
        </span>
        <span className="spacer" />
        <select
          id={filterId}
          value={filter}
          onChange={(e) => setFilter(e.target.value as Filter)}
          aria-label="Show"
          data-testid="library-filter"
        >
          <option value="all">All</option>
          <option value="generation">Generations</option>
          <option value="inversion">Inversions</option>
        </select>
        <input
          id={searchId}
          type="search"
          placeholder="Search prompts"
          aria-label="Search prompts"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <button type="button" className="secondary" onClick={() => void store.load()}>
          Refresh
        </button>
      </div>
      {library.error && (
        <p className="error-text" role="alert">
          Could not load the library: {library.error}
        </p>
      )}
      <div className="library-layout">
        <div>
          {library.loaded && items.length === 0 ? (
            <p className="muted" data-testid="library-empty">
              {library.items.length === 0 ? 'Nothing here yet. Generate an image or invert one, and it is kept here.' : 'No items match.'}
            </p>
          ) : (
            <ul className="grid" data-testid="library-grid" aria-label="Library items">
              {items.map((item) => (
                <li key={item.id}>
                  <button
                    type="button"
                    className={`tile${item.id === selectedId ? ' selected' : ''}`}
                    onClick={() => setSelectedId(item.id)}
                    aria-pressed={item.id === selectedId}
                    data-testid="library-item"
                    data-kind={item.kind}
                    data-id={item.id}
                    title={promptOf(item)}
                  >
                    <img src={api.imageUrl(item.file)} alt={promptOf(item)} loading="lazy" />
                    <span className={`badge ${item.kind === 'inversion' ? 'busy' : ''}`}>
                      {item.kind === 'inversion'
                        ? item.inversion.partial
                          ? 'inversion · partial'
                          : 'inversion'
                        : item.edit
                          ? 'edit'
                          : 'generation'}
                    </span>
                    <div className="tile-caption">{item.title ?? promptOf(item)}</div>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <aside className="details" aria-label="Details">
          {selected ? (
            <Details
              item={selected}
              onDeleted={() => setSelectedId(undefined)}
              onSelect={(id) => setSelectedId(id)}
              has={(id) => library.items.some((i) => i.id === id)}
            />
          ) : (
            <div className="panel muted">Select an item to see its parameters.</div>
          )}
        </aside>
      </div>
    </div>
  );
}

function Details({
  item,
  onDeleted,
  onSelect,
  has,
}: {
  item: LibraryItem;
  onDeleted: () => void;
  onSelect: (id: string) => void;
  has: (id: string) => boolean;
}) {
  const { api } = useStudio();
  const [error, setError] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const prompt = promptOf(item);

  const del = async (): Promise<void> => {
    try {
      await api.deleteLibraryItem(item.id);
      onDeleted();
    } catch (e) {
      setError(studioErrorMessage(e));
    }
  };
  const openInPrompt = (): void => {
    if (item.kind === 'generation') {
      const { prompt: text, negativePrompt, ...params } = item.params;
      navigate('prompt', { view: 'prompt', prompt: text, negativePrompt, params });
    } else {
      navigate('prompt', { view: 'prompt', prompt: item.inversion.prompt });
    }
  };
  const invertThis = (): void => {
    // A library input is the item's shown image (for an inversion: its reconstruction). Re-running
    // on an inversion's original target would need the host to accept the target file as input.
    navigate('invert', { view: 'invert', image: { libraryId: item.id, file: item.file, title: item.title ?? prompt.slice(0, 60) } });
  };

  return (
    <div className="panel" data-testid="library-details" data-kind={item.kind}>
      <AttentionImage src={api.imageUrl(item.file)} alt={prompt} testId="details-image" pixelated attention={libraryAttention(item.id)} />
      <h2 style={{ marginTop: 10 }}>{item.kind === 'generation' ? (item.edit ? 'Edit' : 'Generation') : 'Inversion'}</h2>
      <div className="result-prompt" data-testid="details-prompt">
        {prompt}
      </div>
      <dl>
        <dt>Created</dt>
        <dd>{formatDate(item.createdAt)}</dd>
        <dt>Size</dt>
        <dd>
          {item.width}×{item.height}
        </dd>
        {item.kind === 'generation' ? (
          <>
            {item.params.negativePrompt && (
              <>
                <dt>Negative</dt>
                <dd>{item.params.negativePrompt}</dd>
              </>
            )}
            <dt>Seed</dt>
            <dd>{item.params.seed}</dd>
            <dt>Steps</dt>
            <dd>{item.params.steps}</dd>
            <dt>Scheduler</dt>
            <dd>{item.params.scheduler}</dd>
            <dt>Guidance</dt>
            <dd>{item.params.guidance}</dd>
            <dt>Model</dt>
            <dd>{item.params.model}</dd>
          </>
        ) : (
          <>
            <dt>Started from</dt>
            <dd>{item.inversion.initialPrompt || '–'}</dd>
            <dt>Preset</dt>
            <dd>
              {item.inversion.preset} · {item.inversion.objective}
            </dd>
            <dt>Iterations</dt>
            <dd>
              {item.inversion.iterations} in {formatDuration(item.inversion.seconds)}
              {item.inversion.partial ? ' (cancelled, best so far)' : ''}
            </dd>
            <dt>Model</dt>
            <dd>{item.inversion.model}</dd>
            <dt>Best score</dt>
            <dd>{formatNumber(Math.max(...item.inversion.candidates.map((c) => c.score)))}</dd>
          </>
        )}
      </dl>
      {item.kind === 'generation' && item.edit && (
        <EditDetails
          edit={item.edit}
          file={item.file}
          sourceId={item.editOf && has(item.editOf) ? item.editOf : undefined}
          onShowSource={onSelect}
        />
      )}
      {item.kind === 'inversion' && (
        <>
          <div className="pair" style={{ gridTemplateColumns: '1fr 1fr' }}>
            <AttentionImage
              src={api.imageUrl(item.inversion.targetFile)}
              alt="Inversion target"
              caption="Target"
              testId="details-target"
              attention={libraryAttention(item.id, item.inversion.targetFile)}
            />
            <ImageFrame src={api.imageUrl(item.file)} alt="Reconstruction" caption="Result" pixelated />
          </div>
          {item.inversion.loss.length > 0 && <LossChart values={item.inversion.loss} width={300} height={90} label="Objective" />}
        </>
      )}
      <div className="btn-row" style={{ marginTop: 10 }}>
        <button type="button" className="primary" onClick={openInPrompt} data-testid="details-open-prompt">
          Open in Prompt
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => navigate('edit', { view: 'edit', item })}
          data-testid="details-edit"
          title="Edit this image by editing its prompt (the Edit view)"
        >
          Edit
        </button>
        <button type="button" className="secondary" onClick={invertThis} data-testid="details-invert">
          Invert this image
        </button>
        <button type="button" className="secondary" onClick={() => void copyText(prompt)}>
          Copy prompt
        </button>
        {confirming ? (
          <>
            <button type="button" className="danger" onClick={() => void del()}>
              Really delete
            </button>
            <button type="button" className="btn-ghost" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
      </div>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
