// Throw-away PostgreSQL for integration tests: never the machine's default cluster on 5432.
//
// Why it is built this way:
// - One temp cluster per test process, shared by every startPostgres() call in that process
//   and reference counted; each call gets a FRESH DATABASE on it (CREATE DATABASE is ~50 ms,
//   a cluster is ~1 s). The cluster stops when the last handle stops, and a process 'exit'
//   hook kills it by PID if a suite forgot.
// - initdb runs once per machine: the initialised data directory is kept as a template in
//   the OS temp dir (atomically renamed into place, so parallel processes cannot see a half
//   one) and each cluster starts from a `cp -a` copy of it (tens of ms instead of ~0.8 s).
// - fsync/synchronous_commit/full_page_writes off: test data need not survive a power cut.
// - Postgres refuses to run as root, so when we are root the server binaries run with the
//   `postgres` user's uid/gid (the environment.md recipe used `su postgres`; spawning with
//   uid/gid avoids shell quoting).
// - `{ dedicated: true }` gives a suite its own cluster with stopServer()/startServer(), for
//   fault tests (Postgres down) that must not disturb other suites in the same process.
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './freePort.ts';

export interface PostgresHandle {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust auth, no password). */
  readonly url: string;
  readonly database: string;
  readonly port: number;
  /** Drops this handle's database and releases the cluster (stopped when unused). Idempotent. */
  stop(): Promise<void>;
  /** Dedicated clusters only: stop the server process, keeping its data (fault injection). */
  stopServer(): Promise<void>;
  /** Dedicated clusters only: start it again on the same port and data directory. */
  startServer(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Own cluster instead of a database on the process-wide shared one. Default false. */
  dedicated?: boolean;
}

interface Cluster {
  readonly root: string;
  readonly dataDir: string;
  readonly port: number;
  running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<Cluster>();
let shared: { cluster: Promise<Cluster>; refs: number } | null = null;

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  if (options.dedicated) {
    const cluster = await createCluster();
    const database = await createDatabase(cluster.port);
    let stopped = false;
    return {
      url: urlFor(cluster.port, database),
      database,
      port: cluster.port,
      async stop() {
        if (stopped) return;
        stopped = true;
        await cluster.stop();
      },
      stopServer: async () => {
        if (cluster.running) await pgCtlStop(cluster.dataDir, 'fast');
        cluster.running = false;
      },
      startServer: () => cluster.start(),
    };
  }

  if (!shared) shared = { cluster: createCluster(), refs: 0 };
  const entry = shared;
  entry.refs++;
  let cluster: Cluster;
  let database: string;
  try {
    cluster = await entry.cluster;
    database = await createDatabase(cluster.port);
  } catch (err) {
    await release(entry);
    throw err;
  }
  let stopped = false;
  const notDedicated = async () => {
    throw new Error('startPostgres: stopServer/startServer need { dedicated: true }');
  };
  return {
    url: urlFor(cluster.port, database),
    database,
    port: cluster.port,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await dropDatabase(cluster.port, database);
      } finally {
        await release(entry);
      }
    },
    stopServer: notDedicated,
    startServer: notDedicated,
  };
}

async function release(entry: { cluster: Promise<Cluster>; refs: number }): Promise<void> {
  entry.refs--;
  if (entry.refs > 0) return;
  if (shared === entry) shared = null;
  const cluster = await entry.cluster.catch(() => null);
  await cluster?.stop();
}

function urlFor(port: number, database: string): string {
  return `postgres://postgres@127.0.0.1:${port}/${database}`;
}

async function createDatabase(port: number): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  await withAdmin(port, (c) => c.query(`CREATE DATABASE ${name}`));
  return name;
}

async function dropDatabase(port: number, name: string): Promise<void> {
  await withAdmin(port, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

async function withAdmin<T>(port: number, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(port, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// ---- cluster processes ----------------------------------------------------------------

function pgBinDir(): string {
  const fromEnv = process.env.FOOOCUS_TEST_PG_BIN;
  if (fromEnv) return fromEnv;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error('startPostgres: no /usr/lib/postgresql/<v>/bin/initdb (set FOOOCUS_TEST_PG_BIN)');
  return join(base, versions[0], 'bin');
}

/** uid/gid to run server binaries as: the `postgres` user when we are root. */
function serverIdentity(): { uid: number; gid: number } | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function run(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<{ code: number; output: string }> {
  const id = serverIdentity();
  const spawnOpts: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, cwd: tmpdir() };
  if (id) Object.assign(spawnOpts, id);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, spawnOpts);
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${output}`));
      else resolve({ code: code ?? -1, output });
    });
  });
}

function ownForServer(path: string): void {
  const id = serverIdentity();
  if (id) chownSync(path, id.uid, id.gid);
}

async function templateDir(bin: string): Promise<string> {
  const version = bin.split('/').filter(Boolean).at(-2) ?? 'pg';
  const template = join(tmpdir(), `fooocus-test-pg-template-${version}-${process.getuid?.() ?? 0}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = `${template}.building-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(building, { recursive: true });
  ownForServer(building);
  await run(join(bin, 'initdb'), ['-D', building, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  try {
    renameSync(building, template);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another process won the race
  }
  return template;
}

async function pgCtlStop(dataDir: string, mode: 'fast' | 'immediate'): Promise<void> {
  await run(join(pgBinDir(), 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop'], { allowFail: true });
}

async function createCluster(): Promise<Cluster> {
  const bin = pgBinDir();
  const template = await templateDir(bin);
  const root = mkdtempSync(join(tmpdir(), 'fooocus-pg-'));
  ownForServer(root);
  const dataDir = join(root, 'data');
  await run('cp', ['-a', template, dataDir]);

  let lastError: unknown;
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const cluster: Cluster = {
      root,
      dataDir,
      port,
      running: false,
      async start() {
        if (cluster.running) return;
        const opts = [
          `-p ${port}`,
          `-k ${root}`,
          '-c listen_addresses=127.0.0.1',
          '-c fsync=off',
          '-c synchronous_commit=off',
          '-c full_page_writes=off',
          '-c max_connections=200',
        ].join(' ');
        await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-o', opts, '-l', join(root, 'log'), '-w', '-t', '30', 'start']);
        cluster.running = true;
      },
      async stop() {
        live.delete(cluster);
        if (cluster.running) await pgCtlStop(dataDir, 'fast');
        cluster.running = false;
        rmSync(root, { recursive: true, force: true });
      },
    };
    try {
      await cluster.start();
      live.add(cluster);
      return cluster;
    } catch (err) {
      lastError = err; // most likely the port was taken between freePort() and bind
    }
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError;
}

// A suite that never called stop() must not leave a postmaster behind. 'exit' handlers are
// synchronous, so signal the postmaster by the PID in its pid file (SIGQUIT = immediate).
process.once('exit', () => {
  for (const cluster of live) {
    try {
      const pid = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      /* already gone */
    }
    rmSync(cluster.root, { recursive: true, force: true });
  }
});
