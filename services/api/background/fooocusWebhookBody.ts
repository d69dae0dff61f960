/**
 * The body of a task's terminal webhook in FooocusAPI's shape (api-contract §5.1), rendered
 * from the task row at delivery time (terminal webhooks are enqueued with payload null by
 * services/infra/postgres/terminalWebhook.ts, in the same statement as the fenced update).
 *
 * FooocusAPI posts `httpx.post(json=str(db_row))`: the body is a JSON STRING whose content is
 * the record's JSON (`json.dumps` of the row: `{"id": 71, "task_id": …}` with Python's ", "
 * and ": " separators). Receivers written for it call JSON.parse twice, so the double
 * encoding is kept byte-compatible in shape; the record has the same keys in the same order.
 * Deviations (docs/compat.md): `task_status` is "failed"/"canceled" for those outcomes
 * (toFooocusStatus), seeds in req_params are decimal strings, and the body is signed.
 */
import type { Task } from '../../core/task/taskRecord.ts';
import { isTerminal, toFooocusStatus } from '../../core/task/taskStatus.ts';

export interface FooocusRecordOptions {
  /** Public URL of an output blob key (FooocusAPI `{base}/outputs/{date}/{file}`). */
  outputUrl: (key: string) => string;
}

/** FooocusAPI's `generate_record` row for a task, keys in FooocusAPI's order. */
export function fooocusWebhookRecord(task: Task, options: FooocusRecordOptions): Record<string, unknown> {
  const terminal = isTerminal(task.status);
  return {
    id: task.seq,
    task_id: task.id,
    req_params: task.reqParams,
    in_queue_mills: task.createdAt.getTime(),
    start_mills: task.startedAt ? task.startedAt.getTime() : null,
    finish_mills: task.finishedAt ? task.finishedAt.getTime() : null,
    task_status: toFooocusStatus(task.status, 'record'),
    progress: terminal ? 100 : (task.progress?.percent ?? null),
    webhook_url: task.webhookUrl ?? '',
    result: task.results.map((r) => options.outputUrl(r.key)),
  };
}

/** The exact body bytes FooocusAPI would send: a JSON string literal holding `json.dumps(record)`. */
export function renderFooocusWebhookBody(task: Task, options: FooocusRecordOptions): string {
  return JSON.stringify(pythonJsonDumps(fooocusWebhookRecord(task, options)));
}

/** Python's `json.dumps(value, ensure_ascii=False)` layout: ", " between items, ": " after keys. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  return JSON.stringify(value);
}
