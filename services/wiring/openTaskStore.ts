// The task store for a configuration: a Postgres server when DATABASE_URL is set, else
// embedded PGlite persisted under DATA_DIR/pglite.
//
// Migrations: embedded mode applies them at start (one process owns the database). Against a
// server they are a separate step (`services/api/migrate.ts`, a Helm hook or init job) so a
// rollout never has a hundred pods racing a schema change; the wiring then only CHECKS that
// the schema is current and refuses to start otherwise, naming the command to run. Either
// default can be overridden with the `migrate` option (tests, one-shot tools).
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import type { StorageEnv } from '../config/storageConfig.ts';
import { connectPglite } from '../infra/postgres/connectPglite.ts';
import { connectPostgres, type DatabaseConnection } from '../infra/postgres/connectPostgres.ts';
import { createPostgresTaskStore, type PostgresTaskStore } from '../infra/postgres/createPostgresTaskStore.ts';
import { MIGRATIONS } from '../infra/postgres/migrations.ts';
import { BackendBootError, errorMessage, redactUrl } from './backendBootError.ts';

export interface OpenedTaskStore {
  kind: 'postgres' | 'pglite';
  store: PostgresTaskStore;
  connection: DatabaseConnection;
  /** Where it is, for the start-up log line (credentials redacted). */
  location: string;
}

export async function openTaskStore(
  config: Pick<StorageEnv, 'DATABASE_URL' | 'DATABASE_POOL_MAX' | 'DATA_DIR'>,
  options: { migrate?: boolean; connectTimeoutMs: number },
): Promise<OpenedTaskStore> {
  if (config.DATABASE_URL) {
    const location = redactUrl(config.DATABASE_URL);
    const migrate = options.migrate ?? false;
    let connection: DatabaseConnection;
    try {
      connection = await connectPostgres(config.DATABASE_URL, {
        max: config.DATABASE_POOL_MAX,
        migrate,
        connectionTimeoutMs: options.connectTimeoutMs,
      });
      await sql`SELECT 1`.execute(connection.db);
    } catch (err) {
      throw new BackendBootError('DATABASE_URL', `cannot use Postgres at ${location}: ${errorMessage(err)}`, { cause: err });
    }
    if (!migrate) {
      try {
        await assertSchemaCurrent(connection);
      } catch (err) {
        await connection.close();
        throw err;
      }
    }
    return { kind: 'postgres', store: createPostgresTaskStore({ db: connection.db }), connection, location };
  }

  const dir = resolve(config.DATA_DIR, 'pglite');
  let connection: DatabaseConnection;
  try {
    await mkdir(dir, { recursive: true });
    connection = await connectPglite(dir, { migrate: options.migrate ?? true });
  } catch (err) {
    throw new BackendBootError('DATA_DIR', `cannot open the embedded database in ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  return { kind: 'pglite', store: createPostgresTaskStore({ db: connection.db }), connection, location: join(dir) };
}

async function assertSchemaCurrent(connection: DatabaseConnection): Promise<void> {
  const latest = Math.max(...MIGRATIONS.map((m) => m.id));
  const applied = await sql<{ id: number | null }>`SELECT max(id) AS id FROM fooocus_migrations`
    .execute(connection.db)
    .then((r) => Number(r.rows[0]?.id ?? 0))
    .catch(() => 0); // no migrations table yet
  if (applied < latest) {
    throw new BackendBootError(
      'DATABASE_URL',
      `the database schema is at migration ${applied}, this version needs ${latest}: run \`npx tsx services/api/migrate.ts\` (or start with migrate enabled)`,
    );
  }
}
