/**
 * Errors that only exist at the HTTP edge (no domain meaning): a body over the size limit,
 * an operation this server cannot perform, a malformed Idempotency-Key. Domain failures use
 * the core error classes (services/core/errors.ts); the mapper handles both.
 */
import type { ProblemType } from './problem.ts';

export class HttpError extends Error {
  readonly status: number;
  readonly problemType: ProblemType;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    problemType: ProblemType,
    status: number,
    message: string,
    options: { cause?: unknown; extensions?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.problemType = problemType;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}
