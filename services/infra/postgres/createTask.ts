// Insert a task and its first dispatch (outbox row, attempt 0) in one transaction
// (reliability.md I3): a task can exist without having been published yet — the relay
// publishes it — but never be lost between "accepted" and "dispatched".
//
// Idempotency-Key: the insert is ON CONFLICT DO NOTHING on (coalesce(owner,''), key). A
// concurrent duplicate blocks on the unique index until the first commits, then finds its
// row; either way the caller gets the first task and no second outbox row.
import { sql, type Kysely } from 'kysely';
import type { CreateTaskResult } from '../../core/ports.ts';
import type { NewTask } from '../../core/task/taskRecord.ts';
import type { FooocusDatabase } from './schema.ts';
import { jsonb } from './sqlValues.ts';
import { taskFromRow, type TaskRow } from './taskRow.ts';

export async function createTask(db: Kysely<FooocusDatabase>, task: NewTask): Promise<CreateTaskResult> {
  return await db.transaction().execute(async (trx) => {
    const owner = task.owner ?? null;
    const key = task.idempotencyKey ?? null;
    const inserted = await sql<TaskRow>`
      INSERT INTO tasks (id, req_params, webhook_url, owner, idempotency_key)
      VALUES (${task.id}, ${jsonb(task.reqParams)}, ${task.webhookUrl ?? null}, ${owner}, ${key})
      ON CONFLICT ((coalesce(owner, '')), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING *`.execute(trx);
    const row = inserted.rows[0];
    if (row) {
      await trx.insertInto('task_outbox').values({ task_id: row.id, attempt: row.attempt }).execute();
      return { created: true, task: taskFromRow(row) };
    }
    const existing = await trx
      .selectFrom('tasks')
      .selectAll()
      .where(sql<boolean>`coalesce(owner, '') = ${owner ?? ''}`)
      .where('idempotency_key', '=', key)
      .executeTakeFirstOrThrow();
    return { created: false, task: taskFromRow(existing) };
  });
}
