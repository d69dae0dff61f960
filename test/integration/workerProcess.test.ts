// The worker deployable as a process (services/worker/main.ts) and the boot errors of
// createBackends: a bad setting stops the process with one line naming the setting; a good
// one serves /healthz and /metrics, and SIGTERM exits 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageEnvSchema } from '../../services/config/storageConfig.ts';
import { connectPostgres } from '../../services/infra/postgres/connectPostgres.ts';
import { BackendBootError } from '../../services/wiring/backendBootError.ts';
import { createBackends } from '../../services/wiring/createBackends.ts';
import { freePort } from '../harness/freePort.ts';
import { startNats, type NatsHandle } from '../harness/startNats.ts';
import { startPostgres, type PostgresHandle } from '../harness/startPostgres.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runWorkerProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/worker/main.ts'], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function bootError(promise: Promise<unknown>): Promise<BackendBootError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendBootError);
  return err as BackendBootError;
}

describe('worker process and boot errors', () => {
  let pg: PostgresHandle;
  let nats: NatsHandle;
  let dir: string;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    dir = mkdtempSync(join(tmpdir(), 'fooocus-worker-proc-'));
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), nats?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('boot errors name the setting, with credentials redacted', async () => {
    const deadPort = await freePort();
    const base = { DATA_DIR: dir };

    const noNats = await bootError(createBackends(storageEnvSchema.parse({ ...base, DATABASE_URL: pg.url }), { role: 'worker' }));
    expect(noNats.setting).toBe('NATS_URL');

    const unmigrated = await bootError(createBackends(storageEnvSchema.parse({ ...base, DATABASE_URL: pg.url, NATS_URL: nats.url }), { role: 'worker' }));
    expect(unmigrated.setting).toBe('DATABASE_URL');
    expect(unmigrated.message).toContain('services/api/migrate.ts');

    const pgDown = await bootError(
      createBackends(storageEnvSchema.parse({ ...base, DATABASE_URL: `postgres://fooocus:s3cret@127.0.0.1:${deadPort}/x`, NATS_URL: nats.url }), {
        connectTimeoutMs: 2_000,
      }),
    );
    expect(pgDown.setting).toBe('DATABASE_URL');
    expect(pgDown.message).toContain(`127.0.0.1:${deadPort}`);
    expect(pgDown.message).not.toContain('s3cret');

    const natsDown = await bootError(
      createBackends(storageEnvSchema.parse({ ...base, DATABASE_URL: pg.url, NATS_URL: `nats://127.0.0.1:${deadPort}` }), {
        migrate: true,
        connectTimeoutMs: 2_000,
      }),
    );
    expect(natsDown.setting).toBe('NATS_URL');
    expect(natsDown.message).toContain(`cannot connect to NATS at nats://127.0.0.1:${deadPort}`);

    const s3Down = await bootError(
      createBackends(
        storageEnvSchema.parse({ ...base, DATABASE_URL: pg.url, NATS_URL: nats.url, S3_BUCKET: 'b', S3_ENDPOINT: `http://127.0.0.1:${deadPort}`, S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 'b' }),
        { migrate: true },
      ),
    );
    expect(s3Down.setting).toBe('S3_ENDPOINT');
  });

  it('a worker process without NATS_URL exits 1 with one line naming it', async () => {
    const proc = runWorkerProcess({ DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/db', DATA_DIR: dir, METRICS_PORT: '0' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/fooocus worker failed to start: NATS_URL: required when the worker runs as its own process/);
    expect(proc.output()).not.toContain('pw@');
  });

  it('a worker process serves /healthz and /metrics and exits 0 on SIGTERM', async () => {
    const migrated = await connectPostgres(pg.url, { migrate: true });
    await migrated.close();
    const metricsPort = await freePort();
    const proc = runWorkerProcess({
      DATABASE_URL: pg.url,
      NATS_URL: nats.url,
      DATA_DIR: dir,
      MODELS_DIR: dir,
      WORKER_ID: 'proc-worker',
      METRICS_PORT: String(metricsPort),
    });
    try {
      let health: Response | null = null;
      for (let i = 0; i < 300 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => null);
        if (!health) await sleep(100);
      }
      expect(health?.status, proc.output()).toBe(200);
      expect(await health!.json()).toEqual({ status: 'ok', workerId: 'proc-worker', stopping: false, task: null });
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain('fooocus_worker_busy 0');
      expect(metrics).toContain('# HELP fooocus_tasks_finished_total');
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});
