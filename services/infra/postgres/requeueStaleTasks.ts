// The reconciler's sweep (reliability.md B2/B3/B5/B7), one transaction, three steps:
// 1. Give up: running tasks with a stale heartbeat that have used maxAttempts attempts are
//    failed with worker_crash (the poison-pill counter lives in Postgres, so a task that
//    kills workers cannot crash-loop the fleet). Their webhook is enqueued atomically.
// 2. Requeue: other stale running tasks go back to queued with a new outbox row for their
//    current attempt. The next claim bumps the attempt, so the dead/stalled worker's
//    fenced writes miss from then on. (running → queued is the one backwards transition,
//    and only the reconciler makes it.)
// 3. Redispatch: tasks queued longer than queuedOlderThanMs with no pending outbox row get
//    one again (same attempt ⇒ same Nats-Msg-Id, so it is deduped if the first is still in
//    JetStream's window); queued_at is bumped so each sweep republishes at most once per period.
// Concurrency: these UPDATEs take row locks; a heartbeat committed meanwhile is seen by
// Postgres's re-check of the WHERE clause (READ COMMITTED), so a live task is never requeued.
import { sql, type Kysely } from 'kysely';
import type { RequeueStaleOptions, RequeueStaleReport } from '../../core/ports.ts';
import type { TaskError } from '../../core/task/taskRecord.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { FooocusDatabase } from './schema.ts';
import { jsonb, msAgo } from './sqlValues.ts';
import { enqueueTerminalWebhookCte } from './terminalWebhook.ts';

export const DEFAULT_MAX_ATTEMPTS = 3;

export async function requeueStaleTasks(db: Kysely<FooocusDatabase>, options: RequeueStaleOptions): Promise<RequeueStaleReport> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const staleBefore = msAgo(options.heartbeatOlderThanMs);
  return await db.transaction().execute(async (trx) => {
    const crash = (attempts: number): TaskError => ({
      code: 'worker_crash',
      message: `no worker finished the task in ${attempts} attempts (worker lost or crashed)`,
    });
    const failed = await sql<{ id: string; attempt: number }>`
      WITH done AS (
        UPDATE tasks
        SET status = ${TaskStatus.failed}, error = ${jsonb(crash(maxAttempts))}, finished_at = now(), preview = NULL
        WHERE status = ${TaskStatus.running} AND heartbeat_at < ${staleBefore} AND attempt >= ${maxAttempts}
        RETURNING *
      ), ${enqueueTerminalWebhookCte('done', 'task.failed')}
      SELECT id, attempt FROM done`.execute(trx);

    const requeued = await sql<{ task_id: string }>`
      WITH back AS (
        UPDATE tasks
        SET status = ${TaskStatus.queued}, queued_at = now(), worker_id = NULL, heartbeat_at = NULL,
            progress = NULL, preview = NULL
        WHERE status = ${TaskStatus.running} AND heartbeat_at < ${staleBefore}
        RETURNING id, attempt
      )
      INSERT INTO task_outbox (task_id, attempt) SELECT id, attempt FROM back
      RETURNING task_id`.execute(trx);

    let redispatched: { task_id: string }[] = [];
    if (options.queuedOlderThanMs !== undefined) {
      const requeuedIds = requeued.rows.map((r) => r.task_id);
      redispatched = (
        await sql<{ task_id: string }>`
          WITH again AS (
            UPDATE tasks t
            SET queued_at = now()
            WHERE t.status = ${TaskStatus.queued} AND t.queued_at < ${msAgo(options.queuedOlderThanMs)}
              AND NOT EXISTS (SELECT 1 FROM task_outbox o WHERE o.task_id = t.id)
            RETURNING t.id, t.attempt
          )
          INSERT INTO task_outbox (task_id, attempt) SELECT id, attempt FROM again
          RETURNING task_id`.execute(trx)
      ).rows.filter((r) => !requeuedIds.includes(r.task_id));
    }
    return {
      failed: failed.rows.map((r) => r.id),
      requeued: requeued.rows.map((r) => r.task_id),
      redispatched: redispatched.map((r) => r.task_id),
    };
  });
}
