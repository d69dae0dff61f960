/**
 * How a task row carries its request (decision shared with the worker):
 *
 *   task.reqParams = { ...GenerationJob, requestFingerprint }
 *
 * i.e. the whole normalised `GenerationJob` (plain JSON, images already replaced by stored
 * input references) is the row's `req_params` column, so the worker reads the job from the
 * row it claimed and nothing else travels through the queue. FooocusAPI's `req_params`
 * record value is the job's own `reqParams` snapshot (§2.2 step 11/13).
 * `requestFingerprint` is the sha256 of the request as received, for Idempotency-Key reuse
 * detection (A10).
 *
 * Readers tolerate a row whose reqParams is already the FooocusAPI snapshot (no `version`).
 */
import { createHash } from 'node:crypto';
import type { GenerationJob } from '../../core/request/generationJob.ts';
import type { JsonObject, Task } from '../../core/task/taskRecord.ts';

export interface StoredJob extends GenerationJob {
  requestFingerprint?: string;
}

export function toStoredReqParams(job: GenerationJob, requestFingerprint: string): JsonObject {
  return JSON.parse(JSON.stringify({ ...job, requestFingerprint })) as JsonObject;
}

export function storedJobOf(task: Pick<Task, 'reqParams'>): StoredJob | null {
  const p = task.reqParams as Record<string, unknown>;
  return typeof p.version === 'number' && typeof p.reqParams === 'object' && p.reqParams !== null ? (p as unknown as StoredJob) : null;
}

/** FooocusAPI's `req_params` value for a task. */
export function fooocusReqParams(task: Pick<Task, 'reqParams'>): Record<string, unknown> {
  const job = storedJobOf(task);
  return job ? job.reqParams : task.reqParams;
}

/** Canonical sha256 of a parsed request body plus the response mode it asked for. */
export function requestFingerprint(body: unknown, mode: string): string {
  return createHash('sha256').update(`${mode}\n${canonicalJson(body)}`).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
