/**
 * Typed engine errors. Every error the engine throws on bad input is an EngineError whose
 * `code` is stable (UI and CLI switch on it) and whose message says what the user can do.
 */
export type EngineErrorCode =
  | 'INVALID_MODEL'
  | 'UNSUPPORTED_OP'
  | 'MISSING_GRAD_RULE'
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'MODEL_FOLDER'
  | 'IMAGE'
  | 'DOWNLOAD'
  | 'CHECKSUM'
  | 'CANCELLED'
  | 'NUMERIC'
  | 'RUNTIME'
  | 'NOT_INSTALLED'
  /** A file could not be written (or read) safely: a non-regular target, a folder in the way, no space, no permission. */
  | 'FILE'
  /** The request needs more memory than the engine allows itself (image too large for the model set). */
  | 'TOO_LARGE';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}

/** Thrown by long operations when their AbortSignal fires; carries the best partial result if any. */
export class CancelledError<T = unknown> extends EngineError {
  constructor(
    message = 'cancelled',
    readonly partial?: T,
  ) {
    super('CANCELLED', message);
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
