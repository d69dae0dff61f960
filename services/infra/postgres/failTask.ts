// Record a failure, fenced exactly like completeTask: only the attempt that owns the running
// task may fail it, so a stale worker's late error cannot overwrite a redelivery's success.
// Enqueues the `task.failed` webhook in the same statement.
import { sql, type Kysely } from 'kysely';
import type { Task, TaskError } from '../../core/task/taskRecord.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { jsonb } from './sqlValues.ts';
import { enqueueTerminalWebhookCte } from './terminalWebhook.ts';
import { taskFromRow, type TaskRow } from './taskRow.ts';

export async function failTask(db: Kysely<FooocusDatabase>, id: string, attempt: number, error: TaskError): Promise<Task | null> {
  const { rows } = await sql<TaskRow>`
    WITH done AS (
      UPDATE tasks
      SET status = ${TaskStatus.failed}, error = ${jsonb(error)}, finished_at = now(), heartbeat_at = now(), preview = NULL
      WHERE id = ${id} AND status = ${TaskStatus.running} AND attempt = ${attempt}
      RETURNING *
    ), ${enqueueTerminalWebhookCte('done', 'task.failed')}
    SELECT * FROM done`.execute(db);
  return rows[0] ? taskFromRow(rows[0]) : null;
}
