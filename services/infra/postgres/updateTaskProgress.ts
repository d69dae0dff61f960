// Progress (and the latest preview) for /tasks/{id}, fenced like heartbeatTask and renewing
// the lease too: a progress tick is a heartbeat (B6: one tick drives progress, lease and the
// cancel check). `preview` undefined keeps the stored one; null clears it. Only the latest
// preview is kept: FooocusAPI shows the newest one and drops older ones (§3.3).
import type { Kysely } from 'kysely';
import type { TaskProgress } from '../../core/task/taskRecord.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { jsonb, now } from './sqlValues.ts';

export async function updateTaskProgress(
  db: Kysely<FooocusDatabase>,
  id: string,
  attempt: number,
  progress: TaskProgress,
  preview?: string | null,
): Promise<boolean> {
  const result = await db
    .updateTable('tasks')
    .set({
      progress: jsonb(progress),
      heartbeat_at: now,
      ...(preview !== undefined ? { preview } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', TaskStatus.running)
    .where('attempt', '=', attempt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
