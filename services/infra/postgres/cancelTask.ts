// Cancel: queued or running → canceled, in a transaction that first locks the row
// (SELECT … FOR UPDATE) so the caller learns the status it actually replaced. That matters:
// canceling a *running* task means a worker must be told to stop (control message), and its
// later complete()/heartbeat() will match no row (fenced on status='running'), so its
// partial outputs are discarded (reliability.md fault case 10). A queued task is never
// executed: the worker's claim (fenced on status='queued') misses and it terms the message.
// The allowed statuses come from taskStatus.ts (canCancel), not from literals here.
import { sql, type Kysely } from 'kysely';
import type { CancelResult } from '../../core/ports.ts';
import { CANCELABLE_STATUSES, TaskStatus, canCancel } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { sqlList } from './sqlValues.ts';
import { enqueueTerminalWebhookCte } from './terminalWebhook.ts';
import { taskFromRow, type TaskRow } from './taskRow.ts';

export async function cancelTask(db: Kysely<FooocusDatabase>, id: string): Promise<CancelResult> {
  return await db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('tasks').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!before) return { outcome: 'not_found' };
    if (!canCancel(before.status)) return { outcome: 'not_cancelable', task: taskFromRow(before) };
    const { rows } = await sql<TaskRow>`
      WITH done AS (
        UPDATE tasks
        SET status = ${TaskStatus.canceled}, finished_at = now(), preview = NULL
        WHERE id = ${id} AND status IN (${sqlList(CANCELABLE_STATUSES)})
        RETURNING *
      ), ${enqueueTerminalWebhookCte('done', 'task.canceled')}
      SELECT * FROM done`.execute(trx);
    return { outcome: 'canceled', task: taskFromRow(rows[0]), previous: before.status };
  });
}
