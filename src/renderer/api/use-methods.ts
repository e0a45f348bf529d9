import { useEffect, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import { INVERSION_METHODS, type MethodInfo } from '../../shared/ipc/methods.js';
import { useStudio } from './context.js';

export interface MethodsState {
  /** One per method; before the engine answered, EDITOR only (the others unknown, so not offered). */
  methods: MethodInfo[];
  loaded: boolean;
  error?: string;
}

const PENDING: MethodInfo[] = INVERSION_METHODS.map((method) =>
  method === 'editor' ? { method, available: true } : { method, available: false, reason: 'checking what is installed…' },
);

/**
 * Which inversion methods can run with `modelSet` (undefined: the settings' set), asked again when
 * it changes and when a model download or import finishes (a captioner or CLIP may have arrived).
 */
export function useMethods(modelSet: string | undefined): MethodsState {
  const { api } = useStudio();
  const [epoch, setEpoch] = useState(0);
  // The answer for one model set (and epoch): until the current one's arrives, the methods are pending.
  const key = `${modelSet ?? ''}|${epoch}`;
  const [answer, setAnswer] = useState<{ key: string; methods: MethodInfo[]; error?: string } | undefined>();
  useEffect(
    () =>
      api.onEvent((e) => {
        if (e.type === 'job.result' && (e.result.kind === 'downloadModel' || e.result.kind === 'importModel')) setEpoch((n) => n + 1);
        if (e.type === 'settings.changed') setEpoch((n) => n + 1);
      }),
    [api],
  );
  useEffect(() => {
    let live = true;
    api
      .listMethods(modelSet)
      .then((r) => live && setAnswer({ key, methods: r.methods }))
      .catch((e: unknown) => live && setAnswer({ key, methods: PENDING.slice(0, 1), error: studioErrorMessage(e) }));
    return () => {
      live = false;
    };
  }, [api, modelSet, key]);
  if (answer?.key !== key) return { methods: PENDING, loaded: false };
  return { methods: answer.methods, loaded: true, ...(answer.error ? { error: answer.error } : {}) };
}
