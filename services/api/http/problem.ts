/**
 * RFC 9457 problem details for the routes FooocusAPI does not have (ecosystem.md A7), and the
 * small registry of problem types this API emits. Each type URI is a relative reference to
 * its explanation on the /docs page (`/docs#problem-<name>`), so it resolves on any deployment
 * without a domain of our own; `title` is fixed per type, `detail` describes this occurrence.
 *
 * A problem body always has a string `detail`, so a FooocusAPI client that prints
 * `response.json()["detail"]` still shows something sensible.
 */
import type { Response } from 'express';

export const PROBLEM_TYPES = {
  validation: { title: 'The request is invalid', status: 422 },
  unauthorized: { title: 'Missing or invalid API key', status: 403 },
  'not-found': { title: 'Not found', status: 404 },
  conflict: { title: 'The request conflicts with the current state', status: 409 },
  'idempotency-key-in-flight': { title: 'A request with this Idempotency-Key is still being processed', status: 409 },
  'idempotency-key-reused': { title: 'This Idempotency-Key was used with a different request', status: 422 },
  'invalid-idempotency-key': { title: 'The Idempotency-Key header is malformed', status: 400 },
  'unprocessable-task': { title: 'The task cannot be run as given', status: 422 },
  'payload-too-large': { title: 'The request body is too large', status: 413 },
  'not-implemented': { title: 'This operation is not available on this server', status: 501 },
  unavailable: { title: 'A backing service is unavailable; retry later', status: 503 },
  internal: { title: 'Internal server error', status: 500 },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [extension: string]: unknown;
}

export function problemTypeUri(type: ProblemType): string {
  return `/docs#problem-${type}`;
}

export function problem(type: ProblemType, detail: string, extensions: Record<string, unknown> = {}, status?: number): Problem {
  const t = PROBLEM_TYPES[type];
  return { type: problemTypeUri(type), title: t.title, status: status ?? t.status, detail, ...extensions };
}

export function sendProblem(res: Response, body: Problem): void {
  res.status(body.status).type('application/problem+json').send(JSON.stringify(body));
}
