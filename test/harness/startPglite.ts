// A fresh, already-migrated PGlite data directory for tests, in ~0.5 s instead of the 3–7 s a
// new in-memory PGlite spends in initdb. The first call on a machine builds a template
// (connectPglite + migrations, closed cleanly) in the OS temp dir, keyed by the PGlite
// version and the migration list, and renames it into place atomically; every call copies it.
// Open the copy with connectPglite(handle.dataDir).
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connectPglite } from '../../services/infra/postgres/connectPglite.ts';
import { MIGRATIONS } from '../../services/infra/postgres/migrations.ts';

export interface PgliteHandle {
  /** A private copy of the migrated template; pass to connectPglite(). */
  readonly dataDir: string;
  /** Removes the directory. Close the connection first. Idempotent. */
  stop(): Promise<void>;
}

function pgliteVersion(): string {
  // The package's exports hide package.json: walk up from its entry point instead.
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  while (dir !== dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function templateKey(): string {
  return createHash('sha256').update(pgliteVersion()).update(JSON.stringify(MIGRATIONS)).digest('hex').slice(0, 16);
}

let template: Promise<string> | null = null;

async function buildTemplate(): Promise<string> {
  const dir = join(tmpdir(), `fooocus-test-pglite-${templateKey()}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const building = `${dir}.building-${process.pid}-${randomBytes(3).toString('hex')}`;
  const connection = await connectPglite(building);
  await connection.close();
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another process won the race
  }
  return dir;
}

export async function startPglite(): Promise<PgliteHandle> {
  template ??= buildTemplate().catch((err) => {
    template = null;
    throw err;
  });
  const source = await template;
  const root = mkdtempSync(join(tmpdir(), 'fooocus-pglite-'));
  const dataDir = join(root, 'data');
  cpSync(source, dataDir, { recursive: true });
  let stopped = false;
  return {
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      rmSync(root, { recursive: true, force: true });
    },
  };
}
