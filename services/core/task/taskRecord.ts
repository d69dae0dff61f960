// The domain task: what the store persists and every route and worker reads.
//
// Wire formats (FooocusAPI's RecordResponse with in_queue_mills etc.) are translated to and
// from this type at the edge only. Request parameters are stored as processed JSON with
// images replaced by input-file references — never base64 (rows stay small and listable).
import type { TaskStatus } from './taskStatus.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Why an output ended; Fooocus-API's `finish_reason` vocabulary. */
export type FinishReason = 'SUCCESS' | 'QUEUE_IS_FULL' | 'USER_CANCEL' | 'ERROR';

/** One stored output image. URLs are derived from `key` at the edge (api-contract.md §6). */
export interface TaskOutput {
  /** Blob key, attempt-scoped (reliability.md I5), e.g. `outputs/2024-07-05/….png`. */
  key: string;
  /** The image's seed as a decimal string (seeds reach 2^63-1, beyond JS numbers). */
  seed: string;
  finishReason: FinishReason;
  /** MIME type of the stored bytes, e.g. `image/png`. */
  contentType?: string;
}

export interface TaskProgress {
  /** 0–100 overall, Fooocus's cumulative number (api-contract.md §3.3). */
  percent: number;
  /** Fooocus's message, e.g. "Sampling step 3/30, image 1/2 ...". */
  message: string;
  step?: number;
  total?: number;
}

/** Closed vocabulary; the API maps each code to a problem type and status. */
export type TaskErrorCode =
  | 'invalid_input' // unrecoverable: the request cannot be run as given
  | 'model_missing'
  | 'engine_error' // the engine threw while running
  | 'worker_crash' // the task exhausted its attempts without a worker finishing it
  | 'timeout'
  | 'internal';

export interface TaskError {
  code: TaskErrorCode;
  message: string;
}

export interface Task {
  /** 32 hex chars (FooocusAPI uuid4 hex). */
  id: string;
  /** Store-assigned insertion order; FooocusAPI's integer record `id`. */
  seq: number;
  status: TaskStatus;
  /** Claims so far (0 while never claimed). Fences every worker write. */
  attempt: number;
  createdAt: Date;
  /** Set at each claim (the current attempt's start). */
  startedAt: Date | null;
  finishedAt: Date | null;
  reqParams: JsonObject;
  results: TaskOutput[];
  progress: TaskProgress | null;
  /** Latest latent preview, PNG base64 without a `data:` prefix; cleared when terminal. */
  preview: string | null;
  error: TaskError | null;
  webhookUrl: string | null;
  workerId: string | null;
  heartbeatAt: Date | null;
  /** Tenant (API key id/prefix) that created the task; null in single-user mode. */
  owner: string | null;
  idempotencyKey: string | null;
}

/** What a caller supplies to create a task; the store fills the rest. */
export interface NewTask {
  id: string;
  reqParams: JsonObject;
  webhookUrl?: string | null;
  owner?: string | null;
  /** With `owner`, makes create idempotent: the same (owner, key) returns the first task. */
  idempotencyKey?: string | null;
}

/** The blob keys a task references (what deleting it must remove). */
export function outputKeysOf(task: Pick<Task, 'results'>): string[] {
  return task.results.map((r) => r.key);
}
