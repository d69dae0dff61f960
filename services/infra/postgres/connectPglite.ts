// A Kysely handle on embedded PGlite (Postgres compiled to WASM), for the embedded mode.
//
// PGlite is presented to Kysely's own PostgresDialect as a pool (environment.md §3): a
// dedicated PGlite dialect package would pin older pglite/kysely versions. PGlite has ONE
// connection, so two interleaved transactions would share it (B's statements landing inside
// A's BEGIN). The pool therefore hands out its single client to one holder at a time:
// connect() waits until the previous holder released it, which serialises transactions and
// statements alike. Consequence: code inside db.transaction() must use the transaction
// handle, never `db`, or it waits for itself (the TaskStore always does).
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { openDatabaseConnection, type DatabaseConnection } from './databaseConnection.ts';
import type { FooocusDatabase } from './schema.ts';

export interface ConnectPgliteOptions {
  /** Run migrations before returning. Default true. */
  migrate?: boolean;
}

/** `dataDir`: a directory to persist in, or 'memory' for a throw-away database. */
export async function connectPglite(dataDir: string | 'memory', options: ConnectPgliteOptions = {}): Promise<DatabaseConnection> {
  const pglite = dataDir === 'memory' ? await PGlite.create() : await PGlite.create(dataDir);
  const db = new Kysely<FooocusDatabase>({ dialect: new PostgresDialect({ pool: pgliteAsPool(pglite) as never }) });
  return openDatabaseConnection(db, options.migrate ?? true);
}

interface PoolClientLike {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[]; rowCount: number; command: string }>;
  release(): void;
}

function pgliteAsPool(pglite: PGlite) {
  let holder: Promise<void> = Promise.resolve();
  const client = (release: () => void): PoolClientLike => ({
    async query(text, params) {
      const result = await pglite.query(text, params as never[]);
      return {
        rows: result.rows,
        rowCount: result.affectedRows ?? result.rows.length,
        command: text.trim().split(/\s+/, 1)[0].toUpperCase(),
      };
    },
    release,
  });
  return {
    async connect(): Promise<PoolClientLike> {
      const previous = holder;
      let release!: () => void;
      holder = new Promise<void>((resolve) => (release = resolve));
      await previous;
      return client(release);
    },
    async end(): Promise<void> {
      await holder;
      await pglite.close();
    },
  };
}
