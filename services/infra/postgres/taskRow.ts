// Row → domain mapping, the only place that knows the column names of `tasks`.
import type { Selectable } from 'kysely';
import type { Task } from '../../core/task/taskRecord.ts';
import type { TasksTable } from './schema.ts';

export type TaskRow = Selectable<TasksTable>;

export function taskFromRow(row: TaskRow): Task {
  return {
    id: row.id,
    seq: Number(row.seq),
    status: row.status,
    attempt: row.attempt,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    reqParams: row.req_params,
    results: row.results ?? [],
    progress: row.progress,
    preview: row.preview,
    error: row.error,
    webhookUrl: row.webhook_url,
    workerId: row.worker_id,
    heartbeatAt: row.heartbeat_at,
    owner: row.owner,
    idempotencyKey: row.idempotency_key,
  };
}
