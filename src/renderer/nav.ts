/**
 * Which view is shown (kept in the URL hash, `#/library`, so a reload stays put) and hand-overs
 * between views ("Open in Prompt editor", "Invert this image", "Edit this prompt").
 */
import { useSyncExternalStore } from 'react';
import type { GenerationParams, LibraryItem } from '../shared/ipc/library.js';

export const VIEWS = ['invert', 'prompt', 'edit', 'library', 'models', 'evaluate', 'fuse', 'evolve'] as const;
export type ViewName = (typeof VIEWS)[number];

export type Intent =
  | { view: 'prompt'; prompt: string; negativePrompt?: string; params?: Partial<GenerationParams> }
  | { view: 'invert'; image: { libraryId: string; file: string; title: string } }
  /** Edit a library image (`file`: another image of the item, e.g. a candidate's) by its prompt. */
  | { view: 'edit'; item: LibraryItem; file?: string }
  /** Show this library item's details. */
  | { view: 'library'; select: string };

interface NavState {
  view: ViewName;
  /** Latest hand-over; `seq` changes each time so a view can tell a new one from one it handled. */
  intent?: Intent & { seq: number };
}

function viewFromHash(): ViewName {
  const m = /^#\/([a-z]+)/.exec(window.location.hash);
  const v = m?.[1];
  return (VIEWS as readonly string[]).includes(v ?? '') ? (v as ViewName) : 'invert';
}

let state: NavState = { view: typeof window === 'undefined' ? 'invert' : viewFromHash() };
let seq = 0;
const listeners = new Set<() => void>();
const emit = (): void => {
  for (const l of [...listeners]) l();
};

if (typeof window !== 'undefined') {
  const sync = (): void => {
    const v = viewFromHash();
    if (v !== state.view) {
      state = { ...state, view: v };
      emit();
    }
  };
  window.addEventListener('hashchange', sync);
  window.addEventListener('popstate', sync);
}

export function navigate(view: ViewName, intent?: Intent): void {
  state = { view, ...(intent ? { intent: { ...intent, seq: ++seq } } : state.intent ? { intent: state.intent } : {}) };
  const hash = `#/${view}`;
  // Keep the query string (it may carry the web bridge token) and replace only the hash.
  if (window.location.hash !== hash) history.pushState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
  emit();
}

export function useNav(): NavState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}
