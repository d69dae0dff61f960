// The fenced claim: `UPDATE … SET status='running', attempt=attempt+1 WHERE id=$1 AND
// status='queued' RETURNING *`. Postgres row locking makes it a compare-and-set: of two
// concurrent claims (a redelivery racing the original, or a republished dispatch) the second
// waits for the first's row lock, re-checks `status='queued'`, finds 'running' and matches
// nothing. No SELECT … FOR UPDATE SKIP LOCKED is needed because the worker already knows
// which task it wants (JetStream chose it); compare graphile-worker's getJobs, which must
// also *choose* a job.
//
// On a miss we read the row once more so the worker can tell "canceled" (term) from
// "running elsewhere" (ack) from "deleted" (term); that read is informational only.
import { sql, type Kysely } from 'kysely';
import type { ClaimResult } from '../../core/ports.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { getTask } from './getTask.ts';
import { now } from './sqlValues.ts';
import { taskFromRow } from './taskRow.ts';

export async function claimTask(db: Kysely<FooocusDatabase>, id: string, workerId: string): Promise<ClaimResult> {
  const row = await db
    .updateTable('tasks')
    .set({
      status: TaskStatus.running,
      attempt: sql<number>`attempt + 1`,
      worker_id: workerId,
      started_at: now,
      heartbeat_at: now,
      progress: null,
      preview: null,
    })
    .where('id', '=', id)
    .where('status', '=', TaskStatus.queued)
    .returningAll()
    .executeTakeFirst();
  if (row) return { claimed: true, task: taskFromRow(row) };
  return { claimed: false, current: await getTask(db, id) };
}
