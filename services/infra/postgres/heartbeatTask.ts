// Lease renewal, fenced like every worker write (reliability.md I2): it matches only while
// this attempt still owns a running task. A false return is how a worker learns its task
// was canceled, requeued by the reconciler, or taken over — it must stop and discard.
// Runs on a timer independent of inference (B5), so the reconciler's staleness threshold
// can be a few heartbeat periods.
import type { Kysely } from 'kysely';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { now } from './sqlValues.ts';

export async function heartbeatTask(db: Kysely<FooocusDatabase>, id: string, attempt: number): Promise<boolean> {
  const result = await db
    .updateTable('tasks')
    .set({ heartbeat_at: now })
    .where('id', '=', id)
    .where('status', '=', TaskStatus.running)
    .where('attempt', '=', attempt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
