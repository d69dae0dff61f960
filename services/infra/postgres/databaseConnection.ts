// What connectPostgres() and connectPglite() hand back: a Kysely handle plus an idempotent
// close. Both backends finish the same way once they have a Kysely instance (migrate unless
// told not to, and never leak the pool or the embedded database when migrating fails), so
// that ending lives here once.
import type { Kysely } from 'kysely';
import { migrate } from './migrate.ts';
import type { FooocusDatabase } from './schema.ts';

export interface DatabaseConnection {
  readonly db: Kysely<FooocusDatabase>;
  /** Ends the pool / closes the embedded database. Idempotent. */
  close(): Promise<void>;
}

/** Wraps `db` as a DatabaseConnection, migrating it first when `shouldMigrate` (closed again if that fails). */
export async function openDatabaseConnection(db: Kysely<FooocusDatabase>, shouldMigrate: boolean): Promise<DatabaseConnection> {
  let closed = false;
  const connection: DatabaseConnection = {
    db,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
  if (shouldMigrate) {
    try {
      await migrate(db);
    } catch (err) {
      await connection.close();
      throw err;
    }
  }
  return connection;
}
