/**
 * Reads the task table (Postgres, the source of truth) for the scaler: how many tasks are
 * queued and running, which worker runs which task, and which checkpoints each worker used
 * recently. Read-only, two indexable queries per tick:
 * - counts: a filtered aggregate over status IN (queued, running), served by
 *   tasks_status_seq_idx however long the finished history grows;
 * - activity: running tasks (partial index tasks_running_heartbeat_idx) UNION ALL tasks created
 *   within the warm window (tasks_created_at_idx); an OR would defeat both indexes.
 * worker_id is the worker's WORKER_ID, which the chart sets to the pod name.
 * The checkpoint is the request's base_model_name (FooocusAPI field) or baseModel (normalised).
 */
import pg from 'pg';
import { isRunning, TaskStatus } from '../core/task/taskStatus.ts';
import type { QueueDepth, QueueDepthSource } from './queueDepth.ts';

export interface WorkerActivity {
  workerId: string;
  taskId: string;
  running: boolean;
  checkpoint: string | null;
  startedAt: Date | null;
}

export class TaskTableActivity implements QueueDepthSource {
  private readonly pool: pg.Pool;

  constructor(opts: { connectionString: string; pool?: pg.Pool }) {
    this.pool = opts.pool ?? new pg.Pool({ connectionString: opts.connectionString, max: 2, application_name: 'fooocus-scaler' });
  }

  async readDepth(): Promise<QueueDepth> {
    const r = await this.pool.query<{ queued: string; running: string }>(
      `SELECT count(*) FILTER (WHERE status = $1) AS queued,
              count(*) FILTER (WHERE status = $2) AS running
         FROM tasks
        WHERE status IN ($1, $2)`,
      [TaskStatus.queued, TaskStatus.running],
    );
    return { queued: Number(r.rows[0]?.queued ?? 0), running: Number(r.rows[0]?.running ?? 0) };
  }

  /** Running tasks and tasks started within `windowMs`, newest first. */
  async readActivity(windowMs: number): Promise<WorkerActivity[]> {
    const r = await this.pool.query<{ worker_id: string; id: string; status: TaskStatus; checkpoint: string | null; started_at: Date | null }>(
      `SELECT worker_id, id, status, checkpoint, started_at FROM (
         SELECT worker_id, id, status, coalesce(req_params->>'base_model_name', req_params->>'baseModel') AS checkpoint, started_at
           FROM tasks WHERE status = $1 AND worker_id IS NOT NULL
         UNION ALL
         SELECT worker_id, id, status, coalesce(req_params->>'base_model_name', req_params->>'baseModel') AS checkpoint, started_at
           FROM tasks
          WHERE created_at > now() - make_interval(secs => $2::double precision)
            AND status <> $1 AND worker_id IS NOT NULL AND started_at IS NOT NULL
       ) t
       ORDER BY started_at DESC NULLS LAST
       LIMIT 2000`,
      [TaskStatus.running, windowMs / 1000],
    );
    return r.rows.map((row) => ({
      workerId: row.worker_id,
      taskId: row.id,
      running: isRunning(row.status),
      checkpoint: row.checkpoint,
      startedAt: row.started_at,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
