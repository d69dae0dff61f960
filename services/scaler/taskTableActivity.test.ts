/** Queue depth and worker activity from the task table on a real Postgres (harness), schema from the project's migrations. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../infra/postgres/migrate.ts';
import type { FooocusDatabase } from '../infra/postgres/schema.ts';
import { startPostgres, type PostgresHandle } from '../../test/harness/startPostgres.ts';
import { TaskTableActivity } from './taskTableActivity.ts';

describe('TaskTableActivity', () => {
  let db: PostgresHandle;
  let pool: pg.Pool;
  let table: TaskTableActivity;

  beforeAll(async () => {
    db = await startPostgres();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const kysely = new Kysely<FooocusDatabase>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.url, max: 1 }) }) });
    await migrate(kysely);
    await kysely.destroy();
    const insert = (id: string, status: string, worker: string | null, params: object, created = 'now()', started: string | null = 'now()') =>
      pool.query(
        `INSERT INTO tasks (id, status, worker_id, req_params, created_at, started_at) VALUES ($1, $2, $3, $4, ${created}, ${started ?? 'NULL'})`,
        [id, status, worker, JSON.stringify(params)],
      );
    await insert('q1', 'queued', null, { base_model_name: 'a.safetensors' }, 'now()', null);
    await insert('q2', 'queued', null, {}, 'now()', null);
    await insert('r1', 'running', 'worker-a', { base_model_name: 'juggernautXL_v8.safetensors' }, "now() - interval '2 days'", "now() - interval '1 minute'");
    await insert('f1', 'finished', 'worker-b', { baseModel: 'ponyXL.safetensors' }, "now() - interval '5 minutes'", "now() - interval '4 minutes'");
    await insert('f2', 'finished', 'worker-c', { base_model_name: 'old.safetensors' }, "now() - interval '2 days'", "now() - interval '2 days'");
    await insert('x1', 'failed', 'worker-a', { base_model_name: 'sd_xl_base_1.0.safetensors' }, "now() - interval '3 minutes'", "now() - interval '2 minutes'");
    table = new TaskTableActivity({ connectionString: db.url, pool });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.stop();
  });

  it('counts queued and running tasks', async () => {
    expect(await table.readDepth()).toEqual({ queued: 2, running: 1 });
  });

  it('lists running tasks and recent ones by worker, newest first, with their checkpoint', async () => {
    const rows = await table.readActivity(15 * 60_000);
    expect(rows.map((r) => [r.workerId, r.taskId, r.running, r.checkpoint])).toEqual([
      ['worker-a', 'r1', true, 'juggernautXL_v8.safetensors'],
      ['worker-a', 'x1', false, 'sd_xl_base_1.0.safetensors'],
      ['worker-b', 'f1', false, 'ponyXL.safetensors'],
    ]);
  });
});
