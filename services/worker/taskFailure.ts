// How a failed attempt ends (reliability.md B5/B7): an error is either about the TASK
// (it will fail again however often it is retried: bad input, a model file that is not
// there, a feature this engine does not have) → fail the task at once and term the message;
// or about the INFRASTRUCTURE (object store down, engine thread crashed, GPU out of memory)
// → give the attempt back and nak with backoff, until the delivery bound turns it into
// `worker_crash`. Unknown errors count as transient: retrying a bad task a bounded number of
// times is cheaper than failing a good one for a passing fault.
import { NotFoundError, UnrecoverableTaskError, ValidationError } from '../core/errors.ts';
import type { TaskError } from '../core/task/taskRecord.ts';
import { CheckpointError, EngineInputError } from '../engine/io/engineErrors.ts';
import { ModelFileNotFoundError } from '../infra/models/modelDirectory.ts';

/**
 * The attempt ran past TASK_TIMEOUT_MS (the start-to-close limit, reliability.md B6): the
 * task fails with `timeout` rather than being retried — another worker would take as long.
 */
export class TaskTimeoutError extends UnrecoverableTaskError {
  constructor(readonly limitMs: number) {
    super(`the task ran longer than the worker's time limit of ${Math.round(limitMs / 1000)} s (TASK_TIMEOUT_MS) and was aborted`);
  }
}

/** The task cannot run as given; `taskErrorCode` is what the row records. */
export class TaskInputError extends UnrecoverableTaskError {
  constructor(
    readonly taskErrorCode: 'invalid_input' | 'model_missing',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export type FailureClass = { kind: 'unrecoverable'; error: TaskError } | { kind: 'transient'; message: string };

/**
 * `pathNames` maps absolute model paths back to the names the request used, so messages
 * recorded on the task (shown to clients) name `juggernautXL.safetensors`, not a server path.
 */
export function classifyFailure(err: unknown, pathNames: ReadonlyMap<string, string> = new Map()): FailureClass {
  const message = hideModelPaths(err instanceof Error ? err.message : String(err), pathNames);
  if (err instanceof TaskTimeoutError) return { kind: 'unrecoverable', error: { code: 'timeout', message } };
  if (err instanceof TaskInputError) return { kind: 'unrecoverable', error: { code: err.taskErrorCode, message } };
  if (err instanceof ModelFileNotFoundError) return { kind: 'unrecoverable', error: { code: 'model_missing', message } };
  if (err instanceof CheckpointError) {
    return { kind: 'unrecoverable', error: { code: err.reason === 'not_found' ? 'model_missing' : 'invalid_input', message } };
  }
  if (err instanceof EngineInputError || err instanceof ValidationError || err instanceof UnrecoverableTaskError) {
    return { kind: 'unrecoverable', error: { code: 'invalid_input', message } };
  }
  if (err instanceof NotFoundError) return { kind: 'unrecoverable', error: { code: 'model_missing', message } };
  return { kind: 'transient', message };
}

/** `message` with every absolute model path of `pathNames` replaced by the name the request used. */
export function hideModelPaths(message: string, pathNames: ReadonlyMap<string, string>): string {
  let out = message;
  // Longest first, so a folder never replaces part of a longer file path inside it.
  for (const [path, name] of [...pathNames].sort((a, b) => b[0].length - a[0].length)) out = out.replaceAll(path, name);
  return out;
}
