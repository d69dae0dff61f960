// A worker gives its running attempt back: the fenced `UPDATE … SET status='queued' WHERE
// id=$1 AND status='running' AND attempt=$2` (reliability.md I2), the same backwards step the
// reconciler takes for a dead worker, but taken at once by a live one that knows it will not
// finish: graceful shutdown (fault case 2: "stops fetching and either finishes within the
// grace period or … marks the attempt released") and transient failures that will be retried.
//
// Redispatch, two ways, chosen by the caller:
// - `redispatch: true`: an outbox row for the CURRENT attempt is inserted in the same
//   statement (I3: the task cannot be left queued with nothing to deliver it) and returned, so
//   the worker can publish it at once and mark it sent; if the worker dies first, the relay
//   publishes it. Its dedup id `<id>:<attempt>` is new (every claim bumps the attempt), so it
//   is never mistaken for the original message. Used at shutdown: the message is acked and
//   the fresh one starts at deliveryCount 1, so scale-in does not burn deliveries.
// - `redispatch: false`: no outbox row; the caller naks its message and that redelivery is the
//   dispatch, so deliveryCount keeps counting toward max_deliver (the poison-pill bound, B7).
//   If the redelivery is lost, the reconciler's queued-too-long republish covers it (B2).
// queued_at is bumped either way so the reconciler does not republish during a nak delay.
import { sql, type Kysely } from 'kysely';
import type { ReleaseResult } from '../../core/ports.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { taskFromRow, type TaskRow } from './taskRow.ts';

export async function releaseTask(
  db: Kysely<FooocusDatabase>,
  id: string,
  attempt: number,
  options: { redispatch?: boolean } = {},
): Promise<ReleaseResult | null> {
  const redispatch = options.redispatch ?? true;
  const { rows } = await sql<TaskRow & { outbox_id: string | number | null }>`
    WITH back AS (
      UPDATE tasks
      SET status = ${TaskStatus.queued}, queued_at = now(), worker_id = NULL, heartbeat_at = NULL,
          progress = NULL, preview = NULL
      WHERE id = ${id} AND status = ${TaskStatus.running} AND attempt = ${attempt}
      RETURNING *
    ), dispatch AS (
      INSERT INTO task_outbox (task_id, attempt)
      SELECT id, attempt FROM back WHERE cast(${redispatch} as boolean)
      RETURNING id AS outbox_id, task_id
    )
    SELECT back.*, dispatch.outbox_id FROM back LEFT JOIN dispatch ON dispatch.task_id = back.id`.execute(db);
  const row = rows[0];
  if (!row) return null;
  const { outbox_id: outboxId, ...taskRow } = row;
  const task = taskFromRow(taskRow as TaskRow);
  return {
    task,
    outbox: outboxId === null || outboxId === undefined ? null : { id: Number(outboxId), taskId: task.id, attempt: task.attempt },
  };
}
