/**
 * The domain's named errors. Each carries a stable `code` (what the HTTP mapper in services/api
 * switches over, ending in an exhaustiveness check) and an optional `cause` (the error that led
 * to it, kept for logs, never shown to clients).
 *
 * ValidationError carries FastAPI's 422 `detail` list (api-contract §0.2): every entry is
 * `{type, loc, msg, input?, ctx?}` with `loc` starting at `"body"` (or `"query"`), so a
 * FooocusAPI client that parses pydantic errors keeps working.
 */
import type { z } from 'zod';

export type ErrorCode =
  | 'validation_error'
  | 'not_found'
  | 'conflict'
  | 'unrecoverable_task'
  | 'transient_infra'
  | 'auth';

export interface ErrorOptions {
  cause?: unknown;
}

abstract class DomainErrorBase extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** One FastAPI/pydantic-v2 error entry (`{"detail": [ ...these ]}`). */
export interface ValidationIssue {
  /** pydantic error type, e.g. `missing`, `less_than_equal`, `enum`, `string_type`. */
  type: string;
  /** Path to the offending value, e.g. `["body", "loras", 0, "weight"]`. */
  loc: (string | number)[];
  /** Human-readable message in pydantic's wording where one exists. */
  msg: string;
  /** The rejected value (omitted for a missing field). */
  input?: unknown;
  /** Constraint context, e.g. `{"le": 32}` or `{"expected": "'png', 'jpeg' or 'webp'"}`. */
  ctx?: Record<string, unknown>;
}

/** The request (or a value derived from it) is invalid: HTTP 422. */
export class ValidationError extends DomainErrorBase {
  readonly code = 'validation_error' as const;
  readonly issues: ValidationIssue[];

  constructor(issues: ValidationIssue[], options: ErrorOptions & { message?: string } = {}) {
    super(options.message ?? summarise(issues), options);
    this.issues = issues;
  }

  /** The FastAPI response body's `detail` value. */
  get detail(): ValidationIssue[] {
    return this.issues;
  }

  /** A single-issue error for a body field; `loc` is relative to the body. */
  static forField(
    loc: (string | number)[],
    msg: string,
    extra: { type?: string; input?: unknown; ctx?: Record<string, unknown>; cause?: unknown } = {},
  ): ValidationError {
    const issue: ValidationIssue = { type: extra.type ?? 'value_error', loc: ['body', ...loc], msg };
    if ('input' in extra) issue.input = extra.input;
    if (extra.ctx) issue.ctx = extra.ctx;
    return new ValidationError([issue], { cause: extra.cause });
  }
}

/** A named thing (task, output file, preset, model) does not exist: HTTP 404 (or 200 `[]` where FooocusAPI does that). */
export class NotFoundError extends DomainErrorBase {
  readonly code = 'not_found' as const;
  /** What kind of thing was looked up, e.g. `task`, `output`, `preset`. */
  readonly resource: string;
  readonly id: string;

  constructor(resource: string, id: string, options: ErrorOptions & { message?: string } = {}) {
    super(options.message ?? `${resource} '${id}' not found`, options);
    this.resource = resource;
    this.id = id;
  }
}

/** The operation does not fit the current state (e.g. cancelling a finished task, idempotency key reuse): HTTP 409. */
export class ConflictError extends DomainErrorBase {
  readonly code = 'conflict' as const;
}

/** The task itself cannot succeed (bad model file, undecodable image); retrying will not help. */
export class UnrecoverableTaskError extends DomainErrorBase {
  readonly code = 'unrecoverable_task' as const;
}

/** Infrastructure failed in a way that may pass (database, queue, object store, network): retry later, HTTP 503. */
export class TransientInfraError extends DomainErrorBase {
  readonly code = 'transient_infra' as const;
}

/** Missing or wrong API key. FooocusAPI answers 403 `{"detail":"Forbidden"}`, never 401 (api-contract §0.1). */
export class AuthError extends DomainErrorBase {
  readonly code = 'auth' as const;
  constructor(message = 'Forbidden', options: ErrorOptions = {}) {
    super(message, options);
  }
}

export type DomainError =
  | ValidationError
  | NotFoundError
  | ConflictError
  | UnrecoverableTaskError
  | TransientInfraError
  | AuthError;

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainErrorBase;
}

function summarise(issues: readonly ValidationIssue[]): string {
  if (issues.length === 0) return 'Validation failed';
  const parts = issues.slice(0, 3).map((i) => `${i.loc.filter((p) => p !== 'body').join('.') || 'body'}: ${i.msg}`);
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : '';
  return `Validation failed: ${parts.join('; ')}${more}`;
}

// ---------------------------------------------------------------------------------------------
// zod → FastAPI detail
// ---------------------------------------------------------------------------------------------

/**
 * Translate zod issues into pydantic-v2-shaped entries. Parse with `{ reportInput: true }` so
 * `input` is available. A schema may pin the pydantic type of a custom issue with
 * `params: { type: '...', ctx: {...} }`.
 */
export function fromZodError(
  error: z.ZodError,
  options: { locPrefix?: (string | number)[]; rewriteLoc?: (path: (string | number)[]) => (string | number)[] } = {},
): ValidationError {
  const prefix = options.locPrefix ?? ['body'];
  const issues = error.issues.map((issue) => zodIssueToFastApi(issue, prefix, options.rewriteLoc));
  return new ValidationError(issues, { cause: error });
}

type ZodIssueLike = z.core.$ZodIssue & { input?: unknown };

function zodIssueToFastApi(
  issue: ZodIssueLike,
  prefix: (string | number)[],
  rewriteLoc?: (path: (string | number)[]) => (string | number)[],
): ValidationIssue {
  const rawPath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const path = rewriteLoc ? rewriteLoc(rawPath) : rawPath;
  const loc = [...prefix, ...path];
  const hasInput = 'input' in issue && issue.input !== undefined;
  const out = (type: string, msg: string, ctx?: Record<string, unknown>): ValidationIssue => {
    const v: ValidationIssue = { type, loc, msg };
    if (hasInput) v.input = echoInput(issue.input);
    if (ctx) v.ctx = ctx;
    return v;
  };

  switch (issue.code) {
    case 'invalid_type': {
      if (!hasInput) return out('missing', 'Field required');
      const input = issue.input;
      switch (issue.expected) {
        case 'string':
          return out('string_type', 'Input should be a valid string');
        case 'boolean':
          return typeof input === 'string'
            ? out('bool_parsing', 'Input should be a valid boolean, unable to interpret input')
            : out('bool_type', 'Input should be a valid boolean');
        case 'int':
          if (typeof input === 'number') return out('int_from_float', 'Input should be a valid integer, got a number with a fractional part');
          if (typeof input === 'string') return out('int_parsing', 'Input should be a valid integer, unable to parse string as an integer');
          return out('int_type', 'Input should be a valid integer');
        case 'number':
          return typeof input === 'string'
            ? out('float_parsing', 'Input should be a valid number, unable to parse string as a number')
            : out('float_type', 'Input should be a valid number');
        case 'array':
          return out('list_type', 'Input should be a valid list');
        case 'object':
          return out('model_attributes_type', 'Input should be a valid dictionary or object to extract fields from');
        default:
          return out(`${String(issue.expected)}_type`, issue.message);
      }
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array' || issue.origin === 'string') {
        const what = issue.origin === 'array' ? 'items' : 'characters';
        return out('too_long', `List should have at most ${max} ${what}`, { max_length: max });
      }
      return issue.inclusive === false
        ? out('less_than', `Input should be less than ${max}`, { lt: max })
        : out('less_than_equal', `Input should be less than or equal to ${max}`, { le: max });
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array' || issue.origin === 'string') {
        const what = issue.origin === 'array' ? 'items' : 'characters';
        return out('too_short', `List should have at least ${min} ${what}`, { min_length: min });
      }
      return issue.inclusive === false
        ? out('greater_than', `Input should be greater than ${min}`, { gt: min })
        : out('greater_than_equal', `Input should be greater than or equal to ${min}`, { ge: min });
    }
    case 'invalid_value': {
      const expected = pythonOr(issue.values.map((v) => `'${String(v)}'`));
      return out('enum', `Input should be ${expected}`, { expected });
    }
    case 'invalid_union': {
      return out('value_error', issue.message);
    }
    case 'custom': {
      const params = (issue.params ?? {}) as { type?: string; ctx?: Record<string, unknown> };
      return out(params.type ?? 'value_error', issue.message, params.ctx);
    }
    default:
      return out('value_error', issue.message);
  }
}

/** Longest string echoed back as `input`; a rejected base64 image should not come back whole. */
export const MAX_ECHOED_INPUT_CHARS = 1024;

function echoInput(input: unknown): unknown {
  if (typeof input === 'string' && input.length > MAX_ECHOED_INPUT_CHARS) {
    return `${input.slice(0, MAX_ECHOED_INPUT_CHARS)}… (${input.length} chars)`;
  }
  return input;
}

/** `'a', 'b' or 'c'` — pydantic's enum wording. */
function pythonOr(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
