// Record a task's outputs: the fenced `UPDATE … WHERE id=$1 AND status='running' AND
// attempt=$2` (reliability.md I2/I5). A stale worker — one whose attempt was requeued and
// re-claimed, or whose task was canceled — matches no row, gets null, and must discard its
// outputs and ack (not nak). The terminal webhook is enqueued in the same statement
// (terminalWebhook.ts). The preview is cleared: terminal rows carry none (FooocusAPI §4.4).
import { sql, type Kysely } from 'kysely';
import type { Task, TaskOutput } from '../../core/task/taskRecord.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { jsonb } from './sqlValues.ts';
import { enqueueTerminalWebhookCte } from './terminalWebhook.ts';
import { taskFromRow, type TaskRow } from './taskRow.ts';

export async function completeTask(
  db: Kysely<FooocusDatabase>,
  id: string,
  attempt: number,
  results: TaskOutput[],
  options: { stopped?: boolean } = {},
): Promise<Task | null> {
  const status = options.stopped ? TaskStatus.stopped : TaskStatus.finished;
  const { rows } = await sql<TaskRow>`
    WITH done AS (
      UPDATE tasks
      SET status = ${status}, results = ${jsonb(results)}, finished_at = now(), heartbeat_at = now(), preview = NULL
      WHERE id = ${id} AND status = ${TaskStatus.running} AND attempt = ${attempt}
      RETURNING *
    ), ${enqueueTerminalWebhookCte('done', 'task.completed')}
    SELECT * FROM done`.execute(db);
  return rows[0] ? taskFromRow(rows[0]) : null;
}
