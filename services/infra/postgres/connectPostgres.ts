// A Kysely handle on a Postgres server (pg.Pool). The same TaskStore code runs on this and on
// connectPglite(); only the connection differs.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { openDatabaseConnection, type DatabaseConnection } from './databaseConnection.ts';
import type { FooocusDatabase } from './schema.ts';

export type { DatabaseConnection } from './databaseConnection.ts';

export interface ConnectPostgresOptions {
  /** Pool size. Default 10. */
  max?: number;
  /** Run migrations before returning (safe with concurrent replicas). Default true. */
  migrate?: boolean;
  /** Fail a connect attempt after this long. Default 5000 ms. */
  connectionTimeoutMs?: number;
  /** Tag connections in pg_stat_activity. Default 'fooocus-cloud'. */
  applicationName?: string;
}

export async function connectPostgres(url: string, options: ConnectPostgresOptions = {}): Promise<DatabaseConnection> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    application_name: options.applicationName ?? 'fooocus-cloud',
  });
  // An idle client's error (server restart) must not crash the process; the next query
  // gets a fresh connection or a proper error.
  pool.on('error', () => {});
  const db = new Kysely<FooocusDatabase>({ dialect: new PostgresDialect({ pool }) });
  return openDatabaseConnection(db, options.migrate ?? true);
}
