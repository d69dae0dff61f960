/**
 * The one place errors become HTTP responses (STYLE.md: one mapper, exhaustive switch).
 *
 * | error                        | FooocusAPI routes                      | new routes (problem+json)        |
 * |------------------------------|----------------------------------------|----------------------------------|
 * | ValidationError              | 422 `{"detail":[pydantic issues]}`     | 422 validation + `invalid_params`|
 * | AuthError                    | 403 `{"detail":"Forbidden"}`           | 403 unauthorized                 |
 * | NotFoundError                | 404 `{"detail":"Not Found"}`           | 404 not-found                    |
 * | ConflictError                | 409 `{"detail":msg}`                   | 409 conflict                     |
 * | UnrecoverableTaskError       | 422 `{"detail":msg}`                   | 422 unprocessable-task           |
 * | TransientInfraError          | 503 `{"detail":msg}` + Retry-After     | 503 unavailable + Retry-After    |
 * | HttpError (edge-only)        | problem+json (a string `detail` too)   | problem+json                     |
 * | anything else                | 500 text/plain "Internal Server Error" | 500 internal                     |
 *
 * Fooocus-API (old) routes (style `fooocus-v0`) answer like FooocusAPI routes, but their 422
 * adds `"body"`: the request body as received (`res.locals.requestBody`, else `req.body`).
 *
 * The 500 keeps FooocusAPI's (Starlette's) plain-text body on its routes; the error itself is
 * logged with the request id, never sent (it may hold paths or SQL).
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { isDomainError, type DomainError, type ValidationIssue } from '../../core/errors.ts';
import { errorStyleOf, type ErrorStyle } from './errorStyle.ts';
import { HttpError } from './httpError.ts';
import { problem, sendProblem } from './problem.ts';

const RETRY_AFTER_SECONDS = '5';

export function errorMapper(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      // Streaming responses (SSE, binary) that fail mid-way: nothing to map, just end it.
      logger.warn({ err, path: req.path }, 'error after the response started');
      res.end();
      return;
    }
    const style = errorStyleOf(res);
    if (err instanceof HttpError) {
      res.set(err.headers);
      sendProblem(res, problem(err.problemType, err.message, err.extensions, err.status));
      return;
    }
    if (isDomainError(err)) {
      sendDomainError(res, err, style, req.originalUrl, req.body);
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    if (style !== 'problem') {
      res.status(500).type('text/plain').send('Internal Server Error');
    } else {
      sendProblem(res, problem('internal', 'The server failed to handle this request.', { instance: req.originalUrl }));
    }
    void next;
  };
}

function sendDomainError(res: Response, err: DomainError, style: ErrorStyle, instance: string, requestBody: unknown): void {
  const fooocus = style !== 'problem';
  switch (err.code) {
    case 'validation_error':
      if (style === 'fooocus-v0') res.status(422).json({ detail: err.issues, body: res.locals.requestBody ?? requestBody ?? null });
      else if (fooocus) res.status(422).json({ detail: err.issues });
      else sendProblem(res, problem('validation', err.message, { instance, invalid_params: toInvalidParams(err.issues) }));
      return;
    case 'auth':
      if (fooocus) res.status(403).json({ detail: 'Forbidden' });
      else sendProblem(res, problem('unauthorized', 'Missing or invalid X-API-KEY header.', { instance }));
      return;
    case 'not_found':
      if (fooocus) res.status(404).json({ detail: 'Not Found' });
      else sendProblem(res, problem('not-found', err.message, { instance }));
      return;
    case 'conflict':
      if (fooocus) res.status(409).json({ detail: err.message });
      else sendProblem(res, problem('conflict', err.message, { instance }));
      return;
    case 'unrecoverable_task':
      if (fooocus) res.status(422).json({ detail: err.message });
      else sendProblem(res, problem('unprocessable-task', err.message, { instance }));
      return;
    case 'transient_infra':
      res.set('Retry-After', RETRY_AFTER_SECONDS);
      if (fooocus) res.status(503).json({ detail: err.message });
      else sendProblem(res, problem('unavailable', err.message, { instance }));
      return;
    default:
      assertNever(err);
  }
}

/** RFC 9457 erratum 6178 naming: `invalid_params: [{name, reason, loc, type}]`. */
function toInvalidParams(issues: readonly ValidationIssue[]) {
  return issues.map((i) => ({
    name: i.loc.filter((p) => p !== 'body' && p !== 'query').join('.') || String(i.loc[0] ?? ''),
    reason: i.msg,
    type: i.type,
    loc: i.loc,
  }));
}

function assertNever(value: never): never {
  throw new Error(`unmapped domain error: ${JSON.stringify(value)}`);
}
