/**
 * Applies the database migrations to DATABASE_URL and exits: the Helm pre-install /
 * pre-upgrade hook (and `npx tsx services/api/migrate.ts` by hand). Safe to run
 * concurrently and repeatedly: migrate() takes a transaction-scoped advisory lock and skips
 * applied migrations. Exit 0 on success (prints what it applied), 1 on failure (the URL is
 * printed with its password redacted).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { formatConfigError } from '../config/envHelpers.ts';
import { connectPostgres } from '../infra/postgres/connectPostgres.ts';
import { migrate } from '../infra/postgres/migrate.ts';
import { redactUrl } from '../wiring/backendBootError.ts';

export const migrateEnvSchema = z.object({
  /** postgres://… — required. */
  DATABASE_URL: z.string().url(),
  /** Give up connecting after this long. Default 10 000 ms. */
  MIGRATE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
});

export async function runMigrations(env: NodeJS.ProcessEnv): Promise<number[]> {
  const parsed = migrateEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid migration configuration:\n${formatConfigError(parsed.error)}`);
  const connection = await connectPostgres(parsed.data.DATABASE_URL, {
    migrate: false,
    max: 1,
    connectionTimeoutMs: parsed.data.MIGRATE_CONNECT_TIMEOUT_MS,
    applicationName: 'fooocus-migrate',
  });
  try {
    return (await migrate(connection.db)).applied;
  } finally {
    await connection.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runMigrations(process.env).then(
    (applied) => {
      process.stdout.write(applied.length ? `applied migrations: ${applied.join(', ')}\n` : 'database schema is current\n');
      process.exit(0);
    },
    (err) => {
      const url = process.env.DATABASE_URL ? ` (${redactUrl(process.env.DATABASE_URL)})` : '';
      process.stderr.write(`migration failed${url}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
