/**
 * Typed engine errors. Every failure to read or understand a model file ends
 * here with the file and the reason, so the worker can fail a task with a
 * message the user can act on (and the API can map it to a 4xx) instead of
 * crashing or hanging.
 */

export type CheckpointErrorReason =
  | 'not_found'
  | 'truncated'
  | 'bad_header'
  | 'unsupported_dtype'
  | 'missing_tensor'
  | 'bad_shape'
  | 'unsupported_architecture';

export class CheckpointError extends Error {
  readonly code = 'checkpoint_error' as const;
  constructor(
    readonly file: string,
    readonly reason: CheckpointErrorReason,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason.replace(/_/g, ' ')}: ${detail}`, options);
    this.name = 'CheckpointError';
  }
}

/** A job asked for something the engine cannot do (unknown sampler/scheduler, bad size, ...). */
export class EngineInputError extends Error {
  readonly code = 'engine_input_error' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineInputError';
  }
}

/** Thrown when a job is cancelled through its AbortSignal between steps. */
export class EngineAbortedError extends Error {
  readonly code = 'engine_aborted' as const;
  constructor(readonly kind: 'stop' | 'skip' | 'abort' = 'abort') {
    super(`generation ${kind === 'abort' ? 'aborted' : kind === 'stop' ? 'stopped' : 'skipped'}`);
    this.name = 'EngineAbortedError';
  }
}
