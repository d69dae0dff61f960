// Applies MIGRATIONS in one transaction under a transaction-scoped advisory lock, so any
// number of API replicas and workers can start at once: the first applies, the rest wait on
// the lock and then find nothing to do. A failure rolls everything back (no half schema).
import { sql, type Kysely } from 'kysely';
import { MIGRATIONS, type Migration } from './migrations.ts';
import type { FooocusDatabase } from './schema.ts';

/** Arbitrary but fixed: "fooocus" in ASCII, truncated to fit a bigint. */
const MIGRATION_LOCK_KEY = 0x666f6f6f637573n;

export async function migrate(
  db: Kysely<FooocusDatabase>,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ applied: number[] }> {
  return await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_KEY.toString())})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS fooocus_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`.execute(trx);
    const done = new Set((await trx.selectFrom('fooocus_migrations').select('id').execute()).map((r) => r.id));
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
      if (done.has(migration.id)) continue;
      for (const statement of migration.statements) await sql.raw(statement).execute(trx);
      await trx.insertInto('fooocus_migrations').values({ id: migration.id, name: migration.name }).execute();
      applied.push(migration.id);
    }
    return { applied };
  });
}
