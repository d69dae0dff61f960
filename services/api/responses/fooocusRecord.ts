/**
 * FooocusAPI task records from the domain Task (api-contract §4.1–§4.4, §1.1 modes C/D).
 *
 * Three views, as FooocusAPI has three producers:
 * - `asyncAck`: the immediate async reply, a default-filled RecordResponse (`id:-1`,
 *   `req_params:{}`, `in_queue_mills:-1`, `preview:""`, …) with only task_id and
 *   `task_status:"pending"` set — exactly what FooocusAPI returns.
 * - `row`: the DB-row shape (sync reply, `history`/`pending` lists, `/tasks/{id}` of a task
 *   that is not running): exactly the §4.2 columns, no `preview` key; a queued task has null
 *   status, times, progress and result.
 * - `current`: a running task (`current` list, `/tasks/{id}` while running): RecordResponse
 *   with `preview` as bare base64 (no `data:` prefix) and `task_status:"running"`.
 *
 * Deviations (docs/compat.md): `id` is the store's sequence number even for the running task
 * (FooocusAPI shows -1 there); failed / canceled tasks read "failed" / "canceled" unless
 * `fooocusFailures` (config FOOOCUS_STATUS_COMPAT) asks for FooocusAPI's "finished" / "stop";
 * a running task's row shows its real start time and progress instead of nulls.
 */
import { z } from 'zod';
import { isTerminal, toFooocusStatus } from '../../core/task/taskStatus.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import { resultUrls } from './resultUrls.ts';
import { fooocusReqParams } from './storedJob.ts';

export interface RecordOptions {
  publicBaseUrl: string;
  /** Report failures as "finished" and cancels as "stop" (FooocusAPI). Default false. */
  fooocusFailures?: boolean;
}

const statusValue = z.enum(['pending', 'running', 'finished', 'stop', 'skip', 'failed', 'canceled']);

/** `GET /tasks/{id}` row view / sync reply (§4.2 columns). */
export const taskRowSchema = z
  .object({
    id: z.int().describe('Record number (insertion order).'),
    task_id: z.string().describe('32 lowercase hex characters.'),
    req_params: z.record(z.string(), z.unknown()).describe('The processed request (§2.2): resolved seed, × aspect ratio, flat loras, input images as /inputs URLs.'),
    in_queue_mills: z.int().describe('Enqueue time, ms since the epoch.'),
    start_mills: z.int().nullable().describe('Start of the current attempt, ms; null while queued.'),
    finish_mills: z.int().nullable().describe('End time, ms; null until terminal.'),
    task_status: statusValue.nullable().describe('null while queued; running; finished, stop, failed or canceled when done.'),
    progress: z.number().nullable().describe('0–100; null while queued.'),
    webhook_url: z.string().describe('Resolved webhook URL, "" for none.'),
    result: z.array(z.string()).nullable().describe('Output image URLs; null until terminal.'),
    error: z.object({ code: z.string(), message: z.string() }).optional().describe('Present on failed tasks only (addition).'),
  })
  .describe('A task record as stored (FooocusAPI DB row).');

/** RecordResponse (async acknowledgement and the running task). */
export const recordResponseSchema = z
  .object({
    id: z.int(),
    task_id: z.string(),
    req_params: z.record(z.string(), z.unknown()),
    in_queue_mills: z.int(),
    start_mills: z.int(),
    finish_mills: z.int(),
    task_status: statusValue,
    progress: z.number(),
    preview: z.string().nullable().describe('Latest step preview, bare base64 PNG (no data: prefix), "" or null when none.'),
    webhook_url: z.string(),
    result: z.array(z.string()),
  })
  .describe('FooocusAPI RecordResponse.');

export type TaskRowRecord = z.infer<typeof taskRowSchema>;
export type RecordResponse = z.infer<typeof recordResponseSchema>;

export function asyncAck(taskId: string): RecordResponse {
  return {
    id: -1,
    task_id: taskId,
    req_params: {},
    in_queue_mills: -1,
    start_mills: -1,
    finish_mills: -1,
    task_status: 'pending',
    progress: -1,
    preview: '',
    webhook_url: '',
    result: [],
  };
}

export function taskRow(task: Task, options: RecordOptions): TaskRowRecord {
  const queued = task.status === 'queued';
  const terminal = isTerminal(task.status);
  const record: TaskRowRecord = {
    id: task.seq,
    task_id: task.id,
    req_params: fooocusReqParams(task),
    in_queue_mills: task.createdAt.getTime(),
    start_mills: queued || !task.startedAt ? null : task.startedAt.getTime(),
    finish_mills: terminal && task.finishedAt ? task.finishedAt.getTime() : null,
    task_status: toFooocusStatus(task.status, 'record', { fooocusFailures: options.fooocusFailures }),
    progress: queued ? null : terminal ? 100 : (task.progress?.percent ?? 0),
    webhook_url: task.webhookUrl ?? '',
    result: queued ? null : resultUrls(options.publicBaseUrl, task.results),
  };
  if (task.status === 'failed' && task.error && !options.fooocusFailures) record.error = { code: task.error.code, message: task.error.message };
  return record;
}

export function currentRecord(task: Task, options: RecordOptions): RecordResponse {
  return {
    id: task.seq,
    task_id: task.id,
    req_params: fooocusReqParams(task),
    in_queue_mills: task.createdAt.getTime(),
    start_mills: task.startedAt ? task.startedAt.getTime() : -1,
    finish_mills: -1,
    task_status: 'running',
    progress: task.progress?.percent ?? 0,
    preview: task.preview ?? null,
    webhook_url: task.webhookUrl ?? '',
    result: resultUrls(options.publicBaseUrl, task.results),
  };
}

/** `/tasks/{id}`: the running view for a running task, the row otherwise. */
export function recordFor(task: Task, options: RecordOptions): TaskRowRecord | RecordResponse {
  return task.status === 'running' ? currentRecord(task, options) : taskRow(task, options);
}

/**
 * JSON text of a record with `req_params.image_seed` written as a bare integer, as FooocusAPI
 * (Python ints) does; the domain keeps it as a decimal string because seeds reach 2^63−1,
 * beyond JavaScript numbers.
 */
export function recordJson(record: unknown): string {
  return JSON.stringify(record).replace(/"image_seed":"(-?\d+)"/g, '"image_seed":$1');
}
