import { lazy, Suspense, useEffect } from 'react';
import { EngineBanner, EngineStatus } from './components/EngineStatus.js';
import { NoticeBanners } from './components/Notices.js';
import { navigate, useNav, VIEWS, type ViewName } from './nav.js';
import { InvertView } from './views/InvertView.js';
import { LibraryView } from './views/LibraryView.js';
import { ModelsView } from './views/ModelsView.js';
import { EvaluateView } from './views/EvaluateView.js';
import { EvolveView } from './views/EvolveView.js';
import { FuseView } from './views/FuseView.js';
import { useEngine } from './api/context.js';

// Monaco is large: load the Prompt view (and with it the editor) only when first opened.
const PromptView = lazy(() => import('./views/PromptView.js').then((m) => ({ default: m.PromptView })));
// The Edit view uses the same editor.
const EditView = lazy(() => import('./views/EditView.js').then((m) => ({ default: m.EditView })));

const LABELS: Record<ViewName, { label: string; icon: string; key: string }> = {
  invert: { label: 'Invert', icon: '⟲', key: '1' },
  prompt: { label: 'Prompt', icon: '✎', key: '2' },
  library: { label: 'Library', icon: '▦', key: '3' },
  models: { label: 'Models', icon: '⬇', key: '4' },
  edit: { label: 'Edit', icon: '✂', key: '5' },
  evaluate: { label: 'Evaluate', icon: '▤', key: '6' },
  fuse: { label: 'Fuse', icon: '⊕', key: '7' },
  evolve: { label: 'Evolve', icon: '❦', key: '8' },
};

export function App() {
  const nav = useNav();
  const engine = useEngine();
  const seen = useSeenViews(nav.view);

  // Alt+<key> switches views from anywhere (also inside the editor).
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const v = VIEWS.find((name) => LABELS[name].key === e.key);
      if (v) {
        e.preventDefault();
        navigate(v);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className="app">
      <nav className="sidebar" aria-label="Views">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◐
          </span>
          <span>Inversion Studio</span>
        </div>
        <ul>
          {VIEWS.map((v) => (
            <li key={v}>
              <button
                type="button"
                className={`nav-item${nav.view === v ? ' active' : ''}`}
                aria-current={nav.view === v ? 'page' : undefined}
                data-testid={`nav-${v}`}
                onClick={() => navigate(v)}
                title={`${LABELS[v].label} (Alt+${LABELS[v].key})`}
              >
                <span className="nav-icon" aria-hidden="true">
                  {LABELS[v].icon}
                </span>
                {LABELS[v].label}
              </button>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot">
          <EngineStatus />
          <div className="muted small">
            {engine.transport === 'web' ? 'Web bridge' : engine.transport === 'electron' ? 'Desktop' : ''}
            {engine.version ? ` · v${engine.version}` : ''}
          </div>
        </div>
      </nav>
      <main className="content">
        <EngineBanner />
        <NoticeBanners />
        {/* Views stay mounted once seen, so a running inversion or an edited prompt survives switching. */}
        <section hidden={nav.view !== 'invert'} aria-label="Invert" className="view">
          {seen.has('invert') && <InvertView />}
        </section>
        <section hidden={nav.view !== 'prompt'} aria-label="Prompt editor" className="view">
          {seen.has('prompt') && (
            <Suspense fallback={<div className="loading">Loading the prompt editor…</div>}>
              <PromptView active={nav.view === 'prompt'} />
            </Suspense>
          )}
        </section>
        <section hidden={nav.view !== 'edit'} aria-label="Edit" className="view">
          {seen.has('edit') && (
            <Suspense fallback={<div className="loading">Loading the edit view…</div>}>
              <EditView />
            </Suspense>
          )}
        </section>
        <section hidden={nav.view !== 'library'} aria-label="Library" className="view">
          {seen.has('library') && <LibraryView />}
        </section>
        <section hidden={nav.view !== 'models'} aria-label="Models" className="view">
          {seen.has('models') && <ModelsView />}
        </section>
        <section hidden={nav.view !== 'evaluate'} aria-label="Evaluate" className="view">
          {seen.has('evaluate') && <EvaluateView />}
        </section>
        <section hidden={nav.view !== 'fuse'} aria-label="Fuse" className="view">
          {seen.has('fuse') && <FuseView />}
        </section>
        <section hidden={nav.view !== 'evolve'} aria-label="Evolve" className="view">
          {seen.has('evolve') && <EvolveView />}
        </section>
      </main>
    </div>
  );
}

const seenViews = new Set<ViewName>();
function useSeenViews(current: ViewName): ReadonlySet<ViewName> {
  seenViews.add(current);
  return seenViews;
}
