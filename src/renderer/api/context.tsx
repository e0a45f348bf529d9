import { createContext, useContext, useSyncExternalStore, type ReactNode } from 'react';
import type { Studio, JobView } from './store.js';

const StudioContext = createContext<Studio | null>(null);

export function StudioProvider({ studio, children }: { studio: Studio; children: ReactNode }) {
  return <StudioContext.Provider value={studio}>{children}</StudioContext.Provider>;
}

export function useStudio(): Studio {
  const s = useContext(StudioContext);
  if (!s) throw new Error('useStudio outside StudioProvider');
  return s;
}

export function useJobs(): ReadonlyMap<string, JobView> {
  const { jobs } = useStudio();
  return useSyncExternalStore(jobs.subscribe, jobs.get);
}

export function useJob(jobId: string | undefined): JobView | undefined {
  const all = useJobs();
  return jobId ? all.get(jobId) : undefined;
}

export function useLibrary() {
  const { library } = useStudio();
  return useSyncExternalStore(library.subscribe, library.get);
}

export function useEngine() {
  const { engine } = useStudio();
  return useSyncExternalStore(engine.subscribe, engine.get);
}

export function useSettings() {
  const { settings } = useStudio();
  return useSyncExternalStore(settings.subscribe, settings.get);
}

export function useModels() {
  const { models } = useStudio();
  return useSyncExternalStore(models.subscribe, models.get);
}

export function useNotices() {
  const { notices } = useStudio();
  return useSyncExternalStore(notices.subscribe, notices.get);
}

export function useAttention() {
  const { attention } = useStudio();
  return useSyncExternalStore(attention.subscribe, attention.get);
}
