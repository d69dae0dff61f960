// The TaskStore contract, run unchanged against a Postgres server (test harness) and
// embedded PGlite: the same SQL must behave the same on both (ARCHITECTURE.md "one code path").
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TransientInfraError } from '../../services/core/errors.ts';
import type { TaskOutput } from '../../services/core/task/taskRecord.ts';
import { connectPglite } from '../../services/infra/postgres/connectPglite.ts';
import { connectPostgres, type DatabaseConnection } from '../../services/infra/postgres/connectPostgres.ts';
import { createPostgresTaskStore, type PostgresTaskStore } from '../../services/infra/postgres/createPostgresTaskStore.ts';
import { startPglite } from '../harness/startPglite.ts';
import { startPostgres } from '../harness/startPostgres.ts';

interface Backend {
  name: string;
  open(): Promise<{ connection: DatabaseConnection; extraConnection?: () => Promise<DatabaseConnection>; stop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'postgres',
    async open() {
      const server = await startPostgres();
      const connection = await connectPostgres(server.url);
      return {
        connection,
        extraConnection: () => connectPostgres(server.url),
        async stop() {
          await connection.close();
          await server.stop();
        },
      };
    },
  },
  {
    name: 'pglite',
    async open() {
      const dir = await startPglite();
      const connection = await connectPglite(dir.dataDir);
      return {
        connection,
        async stop() {
          await connection.close();
          await dir.stop();
        },
      };
    },
  },
];

const newId = () => randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const output = (key: string, seed = '1'): TaskOutput => ({ key, seed, finishReason: 'SUCCESS', contentType: 'image/png' });

// Hold one database for the whole file so the shared temp cluster (startPostgres) is started
// once, not once per describe block.
let clusterHold: Awaited<ReturnType<typeof startPostgres>> | null = null;
beforeAll(async () => {
  clusterHold = await startPostgres();
});
afterAll(async () => {
  await clusterHold?.stop();
});

describe.each(backends)('TaskStore on $name', (backend) => {
  let env: Awaited<ReturnType<Backend['open']>>;
  let store: PostgresTaskStore;

  beforeAll(async () => {
    env = await backend.open();
    store = createPostgresTaskStore({ db: env.connection.db });
  });
  afterAll(async () => {
    await env?.stop();
  });
  beforeEach(async () => {
    await sql`TRUNCATE tasks, task_outbox, webhook_deliveries`.execute(env.connection.db);
  });

  async function running(reqParams = {}, webhookUrl: string | null = null) {
    const id = newId();
    await store.create({ id, reqParams, webhookUrl });
    const claim = await store.claim(id, 'worker-1');
    if (!claim.claimed) throw new Error('claim failed');
    return claim.task;
  }

  it('create stores the task as queued, attempt 0, with one outbox entry for attempt 0', async () => {
    const id = newId();
    const result = await store.create({ id, reqParams: { prompt: 'a cat', image_number: 2 }, webhookUrl: 'http://hook' });
    expect(result.created).toBe(true);
    expect(result.task).toMatchObject({ id, status: 'queued', attempt: 0, results: [], error: null, webhookUrl: 'http://hook' });
    expect(await store.get(id)).toEqual(result.task);
    expect(await store.takeOutbox(10)).toEqual([{ id: expect.any(Number), taskId: id, attempt: 0 }]);
  });

  it('create is atomic: when the outbox insert fails, no task row remains', async () => {
    const db = env.connection.db;
    await sql`ALTER TABLE task_outbox ADD CONSTRAINT reject_all CHECK (attempt < 0) NOT VALID`.execute(db);
    try {
      const id = newId();
      await expect(store.create({ id, reqParams: {} })).rejects.toThrow();
      expect(await store.get(id)).toBeNull();
    } finally {
      await sql`ALTER TABLE task_outbox DROP CONSTRAINT reject_all`.execute(db);
    }
  });

  it('create with the same owner and idempotency key returns the first task and dispatches once', async () => {
    const first = await store.create({ id: newId(), reqParams: { n: 1 }, owner: 'key-a', idempotencyKey: 'k1' });
    const again = await store.create({ id: newId(), reqParams: { n: 1 }, owner: 'key-a', idempotencyKey: 'k1' });
    const otherTenant = await store.create({ id: newId(), reqParams: { n: 1 }, owner: 'key-b', idempotencyKey: 'k1' });
    expect(again).toEqual({ created: false, task: first.task });
    expect(otherTenant.created).toBe(true);
    expect((await store.takeOutbox(10)).map((e) => e.taskId)).toEqual([first.task.id, otherTenant.task.id]);
  });

  it('two concurrent claims of one queued task: exactly one wins and the attempt becomes 1', async () => {
    const id = newId();
    await store.create({ id, reqParams: {} });
    const other = env.extraConnection ? await env.extraConnection() : null;
    const store2 = other ? createPostgresTaskStore({ db: other.db }) : store;
    try {
      const results = await Promise.all([store.claim(id, 'worker-a'), store2.claim(id, 'worker-b')]);
      const winners = results.filter((r) => r.claimed);
      expect(winners).toHaveLength(1);
      const loser = results.find((r) => !r.claimed);
      expect(loser).toMatchObject({ claimed: false, current: { status: 'running', attempt: 1 } });
      const task = await store.get(id);
      expect(task).toMatchObject({ status: 'running', attempt: 1, workerId: winners[0].claimed ? winners[0].task.workerId : '' });
      expect(task?.startedAt).toBeInstanceOf(Date);
      expect(task?.heartbeatAt).toBeInstanceOf(Date);
    } finally {
      await other?.close();
    }
  });

  it('claim misses for unknown and canceled tasks and says which', async () => {
    expect(await store.claim(newId(), 'w')).toEqual({ claimed: false, current: null });
    const id = newId();
    await store.create({ id, reqParams: {} });
    await store.cancel(id);
    expect(await store.claim(id, 'w')).toMatchObject({ claimed: false, current: { status: 'canceled', attempt: 0 } });
  });

  it('a stale attempt cannot heartbeat, progress, complete or fail after the task was requeued and re-claimed', async () => {
    const first = await running();
    await store.markOutboxSent((await store.takeOutbox(10)).map((e) => e.id));
    await sleep(5);
    const report = await store.requeueStale({ heartbeatOlderThanMs: 1 });
    expect(report.requeued).toEqual([first.id]);
    expect(await store.get(first.id)).toMatchObject({ status: 'queued', attempt: 1, workerId: null });
    expect(await store.takeOutbox(10)).toEqual([expect.objectContaining({ taskId: first.id, attempt: 1 })]);

    const second = await store.claim(first.id, 'worker-2');
    expect(second).toMatchObject({ claimed: true, task: { attempt: 2, workerId: 'worker-2' } });

    expect(await store.heartbeat(first.id, 1)).toBe(false);
    expect(await store.updateProgress(first.id, 1, { percent: 50, message: 'x' })).toBe(false);
    expect(await store.complete(first.id, 1, [output('tasks/x/1/0.png')])).toBeNull();
    expect(await store.fail(first.id, 1, { code: 'engine_error', message: 'late' })).toBeNull();

    const done = await store.complete(first.id, 2, [output('tasks/x/2/0.png')]);
    expect(done).toMatchObject({ status: 'finished', attempt: 2, results: [output('tasks/x/2/0.png')], error: null });
    expect(done?.finishedAt).toBeInstanceOf(Date);
    expect(await store.complete(first.id, 2, [output('tasks/x/2/1.png')])).toBeNull(); // terminal: no second complete
  });

  it('heartbeat and progress renew the lease; progress keeps only the latest preview, cleared at completion', async () => {
    const task = await running();
    expect(await store.heartbeat(task.id, task.attempt)).toBe(true);
    expect(await store.updateProgress(task.id, task.attempt, { percent: 13, message: 'Sampling step 1/4', step: 1, total: 4 }, 'AAA')).toBe(true);
    expect(await store.updateProgress(task.id, task.attempt, { percent: 34, message: 'Sampling step 2/4', step: 2, total: 4 })).toBe(true);
    expect(await store.get(task.id)).toMatchObject({ progress: { percent: 34, step: 2 }, preview: 'AAA' });
    const done = await store.complete(task.id, task.attempt, [output('a.png')], { stopped: true });
    expect(done).toMatchObject({ status: 'stopped', preview: null, results: [output('a.png')] });
  });

  it('fail records the error', async () => {
    const task = await running();
    const failed = await store.fail(task.id, task.attempt, { code: 'invalid_input', message: 'bad image' });
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'invalid_input', message: 'bad image' } });
  });

  it('cancel: queued and running tasks become canceled, reporting the replaced status; terminal ones are not cancelable', async () => {
    const queued = newId();
    await store.create({ id: queued, reqParams: {} });
    expect(await store.cancel(queued)).toMatchObject({ outcome: 'canceled', previous: 'queued', task: { status: 'canceled' } });

    const run = await running();
    expect(await store.cancel(run.id)).toMatchObject({ outcome: 'canceled', previous: 'running' });
    expect(await store.heartbeat(run.id, run.attempt)).toBe(false); // how the worker learns
    expect(await store.complete(run.id, run.attempt, [output('partial.png')])).toBeNull();
    expect((await store.get(run.id))?.results).toEqual([]);

    expect(await store.cancel(run.id)).toMatchObject({ outcome: 'not_cancelable', task: { status: 'canceled' } });
    expect(await store.cancel(newId())).toEqual({ outcome: 'not_found' });
  });

  it('requeueStale fails tasks out of attempts with worker_crash and leaves live ones alone', async () => {
    const poison = await running();
    expect(await store.requeueStale({ heartbeatOlderThanMs: 60_000 })).toEqual({ requeued: [], redispatched: [], failed: [] });
    await sleep(300);
    const live = await running();
    const report = await store.requeueStale({ heartbeatOlderThanMs: 200, maxAttempts: 1 });
    expect(report).toEqual({ requeued: [], redispatched: [], failed: [poison.id] });
    expect(await store.get(poison.id)).toMatchObject({ status: 'failed', error: { code: 'worker_crash' } });
    expect(await store.get(live.id)).toMatchObject({ status: 'running' });
  });

  it('requeueStale redispatches tasks queued too long, once per period, with the same attempt', async () => {
    const id = newId();
    await store.create({ id, reqParams: {} });
    const entries = await store.takeOutbox(10);
    await store.markOutboxSent(entries.map((e) => e.id)); // relay published it; JetStream then lost it
    expect(await store.requeueStale({ heartbeatOlderThanMs: 60_000, queuedOlderThanMs: 200 })).toMatchObject({ redispatched: [] });
    await sleep(250);
    expect(await store.requeueStale({ heartbeatOlderThanMs: 60_000, queuedOlderThanMs: 200 })).toMatchObject({ redispatched: [id] });
    const again = await store.takeOutbox(10);
    expect(again).toEqual([expect.objectContaining({ taskId: id, attempt: 0 })]);
    await store.markOutboxSent(again.map((e) => e.id));
    // queued_at was bumped: the next sweep within the period leaves it alone
    expect(await store.requeueStale({ heartbeatOlderThanMs: 60_000, queuedOlderThanMs: 200 })).toMatchObject({ redispatched: [] });
  });

  it('takeOutbox leases entries so a second relay does not get them; markOutboxSent removes them', async () => {
    const a = newId();
    const b = newId();
    await store.create({ id: a, reqParams: {} });
    await store.create({ id: b, reqParams: {} });
    const taken = await store.takeOutbox(1, 500);
    expect(taken.map((e) => e.taskId)).toEqual([a]);
    expect((await store.takeOutbox(10, 500)).map((e) => e.taskId)).toEqual([b]);
    expect(await store.takeOutbox(10)).toEqual([]);
    await store.markOutboxSent([taken[0].id]);
    await sleep(550); // b's lease ends: a relay that died after taking it is covered
    expect((await store.takeOutbox(10)).map((e) => e.taskId)).toEqual([b]);
  });

  it('list pages newest first and filters by status, owner and an inclusive created_at range', async () => {
    const owner = `owner-${newId()}`;
    const tasks = [];
    for (let i = 0; i < 5; i++) {
      tasks.push((await store.create({ id: newId(), reqParams: { i }, owner })).task);
      await sleep(3);
    }
    await store.create({ id: newId(), reqParams: {}, owner: 'someone-else' });
    const ids = (list: { id: string }[]) => list.map((t) => t.id);

    expect(ids(await store.list({ owner, page: 0, pageSize: 2 }))).toEqual([tasks[4].id, tasks[3].id]);
    expect(ids(await store.list({ owner, page: 2, pageSize: 2 }))).toEqual([tasks[0].id]);
    expect(await store.list({ owner, page: 3, pageSize: 2 })).toEqual([]);
    expect(ids(await store.list({ owner, order: 'oldest', pageSize: 1 }))).toEqual([tasks[0].id]);
    expect(await store.list({})).toHaveLength(6);

    const range = await store.list({ owner, createdFrom: tasks[1].createdAt, createdTo: tasks[3].createdAt });
    expect(ids(range)).toEqual([tasks[3].id, tasks[2].id, tasks[1].id]);

    await store.claim(tasks[2].id, 'w');
    expect(ids(await store.list({ owner, statuses: ['running'] }))).toEqual([tasks[2].id]);
    expect(await store.list({ owner, statuses: [] })).toEqual([]);
    expect(await store.count({ owner, statuses: ['queued'] })).toBe(4);
    expect(await store.count({})).toBe(6);
  });

  it('deleteMany removes the rows (and their outbox entries) and returns their output keys', async () => {
    const done = await running();
    await store.complete(done.id, done.attempt, [output('outputs/2024-07-05/a.png'), output('outputs/2024-07-05/b.png')]);
    const queued = newId();
    await store.create({ id: queued, reqParams: {} });
    const kept = newId();
    await store.create({ id: kept, reqParams: {} });

    const result = await store.deleteMany([done.id, queued, newId()]);
    expect(result.deletedIds.sort()).toEqual([done.id, queued].sort());
    expect(result.outputKeys.sort()).toEqual(['outputs/2024-07-05/a.png', 'outputs/2024-07-05/b.png']);
    expect(await store.get(done.id)).toBeNull();
    expect((await store.takeOutbox(10)).map((e) => e.taskId)).toEqual([kept]);
    expect(await store.deleteMany([])).toEqual({ deletedIds: [], outputKeys: [] });
  });

  it('a terminal transition enqueues exactly one webhook; the due queue leases, backs off and fences on attempt', async () => {
    const task = await running({}, 'http://receiver.example/hook');
    const noHook = await running();
    await store.complete(noHook.id, noHook.attempt, []);
    await store.complete(task.id, task.attempt, [output('x.png')]);

    const [first, ...rest] = await store.takeDueWebhooks(10, 60_000);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({
      eventId: `evt_${task.id}`,
      eventType: 'task.completed',
      taskId: task.id,
      url: 'http://receiver.example/hook',
      payload: null,
      attempt: 1,
    });
    expect(await store.takeDueWebhooks(10)).toEqual([]); // leased

    expect(await store.markWebhookFailed(first.id, 1, { error: 'HTTP 500', retryInMs: 500 })).toBe(true);
    expect(await store.takeDueWebhooks(10)).toEqual([]); // backing off
    await sleep(550);
    const [retry] = await store.takeDueWebhooks(10);
    expect(retry).toMatchObject({ id: first.id, eventId: first.eventId, attempt: 2, lastError: 'HTTP 500' });

    expect(await store.markWebhookDelivered(first.id, 1)).toBe(false); // stale attempt
    expect(await store.markWebhookDelivered(first.id, 2)).toBe(true);
    await sleep(5);
    expect(await store.takeDueWebhooks(10, 1)).toEqual([]);
  });

  it('webhook leases expire, give-up is final, and enqueueWebhook is idempotent on (event id, url)', async () => {
    const task = await running();
    const delivery = { eventId: 'evt_custom', eventType: 'task.completed' as const, taskId: task.id, url: 'http://r/h', payload: { a: [1, 2] } };
    const first = await store.enqueueWebhook(delivery);
    expect(first.created).toBe(true);
    expect(await store.enqueueWebhook(delivery)).toEqual({ id: first.id, created: false });

    const [taken] = await store.takeDueWebhooks(10, 100);
    expect(taken).toMatchObject({ id: first.id, attempt: 1, payload: { a: [1, 2] } });
    await sleep(150); // the sender died: the lease runs out and another replica takes it
    const [again] = await store.takeDueWebhooks(10, 100);
    expect(again).toMatchObject({ id: first.id, attempt: 2 });
    expect(await store.markWebhookFailed(first.id, 2, { error: '410 Gone', retryInMs: null })).toBe(true);
    await sleep(150);
    expect(await store.takeDueWebhooks(10)).toEqual([]);
  });

  it('release gives a running attempt back (fenced): queued again with a new dispatch for its attempt, or none when asked', async () => {
    const task = await running();
    await store.markOutboxSent((await store.takeOutbox(10)).map((e) => e.id));
    expect(await store.release(task.id, task.attempt + 1)).toBeNull(); // not this attempt
    const released = await store.release(task.id, task.attempt);
    expect(released?.task).toMatchObject({ id: task.id, status: 'queued', attempt: 1, workerId: null, heartbeatAt: null });
    expect(released?.outbox).toEqual({ id: expect.any(Number), taskId: task.id, attempt: 1 });
    expect(await store.takeOutbox(10)).toEqual([released?.outbox]);
    expect(await store.release(task.id, task.attempt)).toBeNull(); // already released
    expect(await store.heartbeat(task.id, task.attempt)).toBe(false);

    const again = await store.claim(task.id, 'worker-2');
    expect(again).toMatchObject({ claimed: true, task: { attempt: 2 } });
    const quiet = await store.release(task.id, 2, { redispatch: false });
    expect(quiet).toMatchObject({ task: { status: 'queued', attempt: 2 }, outbox: null });
    const outbox = await sql<{ attempt: number }>`SELECT attempt FROM task_outbox WHERE task_id = ${task.id}`.execute(env.connection.db);
    expect(outbox.rows).toEqual([{ attempt: 1 }]); // only the earlier entry
  });

  it('a constraint violation propagates as itself, not as an outage', async () => {
    const id = newId();
    await store.create({ id, reqParams: {} });
    const dup = await store.create({ id, reqParams: {} }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(Error);
    expect(dup).not.toBeInstanceOf(TransientInfraError);
  });

  it('cancel and fail enqueue task.canceled / task.failed webhooks', async () => {
    const queued = newId();
    await store.create({ id: queued, reqParams: {}, webhookUrl: 'http://r/1' });
    await store.cancel(queued);
    const failing = await running({}, 'http://r/2');
    await store.fail(failing.id, failing.attempt, { code: 'engine_error', message: 'boom' });
    const due = await store.takeDueWebhooks(10);
    expect(due.map((d) => [d.taskId, d.eventType])).toEqual([
      [queued, 'task.canceled'],
      [failing.id, 'task.failed'],
    ]);
  });
});

describe('migrations on a Postgres server', () => {
  it('several replicas starting at once on an empty database apply the schema exactly once', async () => {
    const server = await startPostgres();
    try {
      const replicas = await Promise.all([1, 2, 3, 4].map(() => connectPostgres(server.url)));
      const rows = await sql<{ id: number }>`SELECT id FROM fooocus_migrations`.execute(replicas[0].db);
      expect(rows.rows.map((r) => r.id)).toEqual([1]);
      await Promise.all(replicas.map((c) => c.close()));
    } finally {
      await server.stop();
    }
  });
});

describe('TaskStore when the Postgres server goes away', () => {
  it('fails with TransientInfraError while it is down and works again when it is back', async () => {
    const server = await startPostgres({ dedicated: true });
    const connection = await connectPostgres(server.url, { connectionTimeoutMs: 1_000 });
    try {
      const store = createPostgresTaskStore({ db: connection.db });
      const id = newId();
      await store.create({ id, reqParams: {} });

      await server.stopServer();
      const down = await store.get(id).catch((e: unknown) => e);
      expect(down).toBeInstanceOf(TransientInfraError);
      expect((down as TransientInfraError).cause).toBeDefined();
      await expect(store.claim(id, 'w')).rejects.toBeInstanceOf(TransientInfraError);

      await server.startServer();
      expect(await store.claim(id, 'w')).toMatchObject({ claimed: true, task: { attempt: 1 } });
    } finally {
      await connection.close();
      await server.stop();
    }
  });
});
