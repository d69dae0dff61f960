// Database failures that may pass (server down or restarting, connections exhausted,
// serialization conflicts) are re-thrown as the domain's TransientInfraError, with the
// driver error as `cause`, so the API answers 503 + Retry-After and the worker naks with a
// delay (reliability.md fault case 9) without either knowing pg's error shapes. Anything
// else (constraint violations, bugs) propagates unchanged.
import { TransientInfraError } from '../../core/errors.ts';

/** SQLSTATE classes/codes that describe the server or connection, not the statement. */
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]|40001|40P01|58)/;
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_MESSAGES = [/Connection terminated/i, /timeout exceeded when trying to connect/i, /Client has encountered a connection error/i];

export function isTransientDbError(err: unknown): boolean {
  if (err instanceof TransientInfraError) return false; // already translated
  const e = err as { code?: unknown; message?: unknown; errors?: unknown[] } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && (TRANSIENT_NODE_CODES.has(e.code) || (e.code.length === 5 && TRANSIENT_SQLSTATE.test(e.code)))) return true;
  if (typeof e.message === 'string' && TRANSIENT_MESSAGES.some((re) => re.test(e.message as string))) return true;
  return Array.isArray(e.errors) && e.errors.some(isTransientDbError); // AggregateError (dual-stack connect)
}

export function translateDbError(err: unknown): unknown {
  return isTransientDbError(err) ? new TransientInfraError(`database unavailable: ${(err as Error).message}`, { cause: err }) : err;
}

/** Wraps every async method of `target` so transient database errors surface as TransientInfraError. */
export function translateDbErrors<T extends object>(target: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    wrapped[name] =
      typeof value === 'function'
        ? async (...args: unknown[]) => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
            } catch (err) {
              throw translateDbError(err);
            }
          }
        : value;
  }
  return wrapped as T;
}
