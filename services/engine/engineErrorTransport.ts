/**
 * Engine errors crossing the worker-thread boundary keep their type, so the
 * worker can tell a bad checkpoint (fail the task) from a stop (cancel it).
 */
import { CheckpointError, EngineAbortedError, EngineInputError, type CheckpointErrorReason } from './io/engineErrors.ts';

export interface SerializedError {
  name: string;
  message: string;
  file?: string;
  reason?: string;
  kind?: 'stop' | 'skip' | 'abort';
  stack?: string;
}

export function serializeEngineError(e: unknown): SerializedError {
  // Subclasses (UnsafePickleError, ExpansionFolderError, …) travel as CheckpointError: the
  // worker decides on the class and reason, the message keeps the detail.
  if (e instanceof CheckpointError) return { name: 'CheckpointError', message: e.message, file: e.file, reason: e.reason };
  if (e instanceof EngineAbortedError) return { name: e.name, message: e.message, kind: e.kind };
  if (e instanceof EngineInputError) return { name: 'EngineInputError', message: e.message };
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

export function reviveEngineError(s: SerializedError): Error {
  switch (s.name) {
    case 'CheckpointError': {
      const e = new CheckpointError(s.file ?? '', (s.reason ?? 'bad_header') as CheckpointErrorReason, '');
      e.message = s.message;
      return e;
    }
    case 'EngineAbortedError':
      return new EngineAbortedError(s.kind ?? 'abort');
    case 'EngineInputError':
      return new EngineInputError(s.message);
    default: {
      const e = new Error(s.message);
      e.name = s.name;
      if (s.stack) e.stack = s.stack;
      return e;
    }
  }
}
