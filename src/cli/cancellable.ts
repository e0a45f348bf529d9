/**
 * Ctrl-C for a CLI command: the first SIGINT aborts the command's AbortController (the engine
 * then stops at its next check and, for an inversion, keeps its best result); a CancelledError
 * that escapes the command's body ends it with exit status 130 and a line saying what happened.
 */
import { CancelledError } from '../main/engine/errors.js';

export interface CancellableOptions {
  /** Command name for the message (`inversion-studio <command>: …`). */
  command: string;
  /** What the user is told when the body ends in a CancelledError (e.g. "nothing was written"). */
  whenCancelled: string;
  /** Called on Ctrl-C before the abort (e.g. to say what happens next). */
  onSigint?: () => void;
  /** Called before the cancellation or an error is reported (e.g. to end a progress line). */
  beforeReport?: () => void;
}

/** Run `body` with SIGINT wired to its AbortController; returns the body's exit status, 130 when cancelled. */
export async function runCancellable(o: CancellableOptions, body: (ac: AbortController) => Promise<number>): Promise<number> {
  const ac = new AbortController();
  const onSigint = (): void => {
    o.onSigint?.();
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    return await body(ac);
  } catch (e) {
    o.beforeReport?.();
    if (e instanceof CancelledError) {
      console.error(`inversion-studio ${o.command}: ${o.whenCancelled}`);
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
