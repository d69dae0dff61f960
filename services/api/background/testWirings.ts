// The two wirings the background-loop tests run against (ARCHITECTURE.md "two ways to run,
// one code path"): a Postgres server + JetStream (harness servers) and embedded PGlite +
// the in-process dispatcher. Test support only — imported by *.test.ts files.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Dispatcher, DispatchSubscription } from '../../core/ports.ts';
import { createInProcessDispatcher } from '../../infra/inprocess/createInProcessDispatcher.ts';
import { createJetStreamDispatcher } from '../../infra/jetstream/createJetStreamDispatcher.ts';
import { connectPglite } from '../../infra/postgres/connectPglite.ts';
import { connectPostgres, type DatabaseConnection } from '../../infra/postgres/connectPostgres.ts';
import { createPostgresTaskStore, type PostgresTaskStore } from '../../infra/postgres/createPostgresTaskStore.ts';
import { startNats, type NatsHandle } from '../../../test/harness/startNats.ts';
import { startPostgres, type PostgresHandle } from '../../../test/harness/startPostgres.ts';

export interface DispatcherSettings {
  ackWaitMs?: number;
  duplicateWindowMs?: number;
}

export interface Wiring {
  readonly name: string;
  /** Starts servers / opens the database. */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** The main connection and its store. */
  connection(): DatabaseConnection;
  store(): PostgresTaskStore;
  /**
   * A second store on its own connection (a second API replica). For PGlite (one embedded
   * database, one connection) it is the same store.
   */
  otherStore(): Promise<PostgresTaskStore>;
  /** A fresh dispatcher (fresh stream for JetStream) per call. */
  dispatcher(settings?: DispatcherSettings): Promise<Dispatcher>;
  /** Empties the tables between tests. */
  reset(): Promise<void>;
}

export function postgresJetStreamWiring(): Wiring {
  let pg: PostgresHandle | null = null;
  let nats: NatsHandle | null = null;
  let nc: NatsConnection | null = null;
  let conn: DatabaseConnection | null = null;
  let store: PostgresTaskStore | null = null;
  const extra: DatabaseConnection[] = [];
  const dispatchers: Dispatcher[] = [];
  return {
    name: 'postgres + jetstream',
    async setup() {
      [pg, nats] = await Promise.all([startPostgres(), startNats()]);
      nc = await connect({ servers: nats.url });
      conn = await connectPostgres(pg.url);
      store = createPostgresTaskStore({ db: conn.db });
    },
    async teardown() {
      await Promise.all(dispatchers.splice(0).map((d) => d.close()));
      await Promise.all(extra.splice(0).map((c) => c.close()));
      await conn?.close();
      await nc?.close();
      await nats?.stop();
      await pg?.stop();
    },
    connection: () => conn!,
    store: () => store!,
    async otherStore() {
      const c = await connectPostgres(pg!.url, { migrate: false });
      extra.push(c);
      return createPostgresTaskStore({ db: c.db });
    },
    async dispatcher(settings = {}) {
      const name = `T${randomBytes(4).toString('hex')}`;
      const d = await createJetStreamDispatcher({
        nc: nc!,
        stream: name,
        subjectPrefix: `tasks.${name}`,
        durable: `workers-${name}`,
        ackWaitMs: settings.ackWaitMs ?? 5_000,
        duplicateWindowMs: settings.duplicateWindowMs,
        storage: 'memory',
        fetchExpiresMs: 1_000,
      });
      dispatchers.push(d);
      return d;
    },
    async reset() {
      await Promise.all(dispatchers.splice(0).map((d) => d.close()));
      await sql`TRUNCATE tasks, task_outbox, webhook_deliveries`.execute(conn!.db);
    },
  };
}

export function pgliteInProcessWiring(): Wiring {
  let conn: DatabaseConnection | null = null;
  let store: PostgresTaskStore | null = null;
  const dispatchers: Dispatcher[] = [];
  return {
    name: 'pglite + in-process',
    async setup() {
      conn = await connectPglite('memory');
      store = createPostgresTaskStore({ db: conn.db });
    },
    async teardown() {
      await Promise.all(dispatchers.splice(0).map((d) => d.close()));
      await conn?.close();
    },
    connection: () => conn!,
    store: () => store!,
    otherStore: async () => store!,
    async dispatcher(settings = {}) {
      const d = createInProcessDispatcher({ ackWaitMs: settings.ackWaitMs ?? 5_000, duplicateWindowMs: settings.duplicateWindowMs });
      dispatchers.push(d);
      return d;
    },
    async reset() {
      await Promise.all(dispatchers.splice(0).map((d) => d.close()));
      await sql`TRUNCATE tasks, task_outbox, webhook_deliveries`.execute(conn!.db);
    },
  };
}

export const wirings = (): Wiring[] => [postgresJetStreamWiring(), pgliteInProcessWiring()];

/** A delivery a test consumer saw. */
export interface SeenDispatch {
  taskId: string;
  attempt: number;
}

export interface LoopTestContext {
  /** A fresh metrics registry per test. */
  readonly registry: Registry;
  /** Records every delivery the dispatcher makes and acks it at once (without claiming the task). */
  consumeAll(dispatcher: Dispatcher): SeenDispatch[];
  /** Runs `stop` (a loop's) after the test, before the consumers stop. */
  stopAfterTest(stop: () => Promise<void>): void;
}

/**
 * Registers, inside a `describe`, the hooks the dispatch-loop tests (outbox relay,
 * reconciler) share: the wiring's servers for the suite, empty tables and a fresh registry
 * per test, and the test's loops then consumers stopped after it.
 */
export function useLoopTestWiring(wiring: Wiring): LoopTestContext {
  const subs: DispatchSubscription[] = [];
  const stops: (() => Promise<void>)[] = [];
  let registry = new Registry();

  beforeAll(() => wiring.setup());
  afterAll(() => wiring.teardown());
  beforeEach(async () => {
    await wiring.reset();
    registry = new Registry();
  });
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
    await Promise.all(subs.splice(0).map((s) => s.stop()));
  });

  return {
    get registry() {
      return registry;
    },
    consumeAll(dispatcher) {
      const seen: SeenDispatch[] = [];
      subs.push(
        dispatcher.consume(async (m) => {
          seen.push({ taskId: m.taskId, attempt: m.attempt });
          await m.ack();
        }),
      );
      return seen;
    },
    stopAfterTest(stop) {
      stops.push(stop);
    },
  };
}

export const newTaskId = (): string => randomBytes(16).toString('hex');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await sleep(20);
  }
}
