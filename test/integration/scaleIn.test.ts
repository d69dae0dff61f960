// Graceful scale-in with REAL PROCESSES in cluster wiring (reliability.md fault case 2: "no
// task is lost"). Postgres, JetStream and S3 come from the harness (fresh database, NATS server
// and bucket per test, migrations applied first); the worker and API deployables run as child
// processes exactly as a pod starts them (`node --import tsx services/<x>/main.ts`) and are
// stopped with SIGTERM, as Kubernetes does on scale-in. The engine is the real one on the tiny
// golden checkpoint at 128×128; tasks are made long enough with steps.
//
//   1. worker SIGTERM mid-task, grace too short → the attempt is released (queued again with a
//      fresh dispatch, never failed), the process exits 0; worker B finishes it (attempt 2).
//   2. worker SIGTERM with enough grace → the running task finishes on A, A takes no new task,
//      exits 0; the task queued behind it stays queued until worker B runs it.
//   3. API SIGTERM with an open generate SSE stream → the stream gets a `retry:` hint and ends
//      cleanly, the process exits 0, the task is untouched (queued); a restarted API replica
//      serves the reconnect and a worker finishes the task.
//
// The test process itself only plays the parts it must: it creates tasks (the API's half,
// store.create + outbox relay) for 1–2, and reads the store, event log and bucket to check.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { storageEnvSchema } from '../../services/config/storageConfig.ts';
import type { TaskEventEnvelope } from '../../services/core/task/taskEvents.ts';
import type { Task } from '../../services/core/task/taskRecord.ts';
import type { TaskStatus } from '../../services/core/task/taskStatus.ts';
import { createBackends, type Backends } from '../../services/wiring/createBackends.ts';
import { CHECKPOINT_NAME, prepareModelsDir } from '../e2e/apiService.ts';
import { freePort } from '../harness/freePort.ts';
import { startNats, type NatsHandle } from '../harness/startNats.ts';
import { startPostgres, type PostgresHandle } from '../harness/startPostgres.ts';
import { startS3, type S3Handle } from '../harness/startS3.ts';
import { submitTask } from './support/submitTask.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const ACK_WAIT_MS = 5_000;
const SSE_RETRY_MS = 1_234; // distinctive, so the drain's `retry:` is recognisable
/** How long a SIGTERMed process may take to exit (engine thread + backends closing). */
const EXIT_TIMEOUT_MS = 20_000;
/** A task on a warm engine; generous for a busy 2-core CI box. */
const TASK_TIMEOUT_MS = 90_000;
/** Per test: two process start-ups with engine loads plus two tasks, on a busy box. */
const TEST_TIMEOUT_MS = 240_000;
/**
 * Long enough that the task is still sampling when the signal lands (~30–60 ms a step at
 * 128×128 on the tiny checkpoint on a 2-core box), short enough to keep the suite quick.
 */
const LONG_STEPS = 40;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- child processes ----------------------------------------------------------------------

interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  readonly output: () => string;
  readonly running: () => boolean;
}

const children = new Set<ServiceProcess>();

function spawnService(name: string, script: 'services/worker/main.ts' | 'services/api/main.ts', env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), TMPDIR: tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let alive = true;
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => {
      alive = false;
      resolveExit(code);
    }),
  );
  const proc: ServiceProcess = { name, child, exited, output: () => output, running: () => alive };
  children.add(proc);
  void exited.then(() => children.delete(proc));
  return proc;
}

// A suite killed mid-test must not leave deployables behind ('exit' handlers are synchronous).
process.once('exit', () => {
  for (const proc of children) proc.child.kill('SIGKILL');
});

async function killAll(): Promise<void> {
  const left = [...children];
  for (const proc of left) proc.child.kill('SIGKILL');
  await Promise.all(left.map((p) => p.exited));
}

/** Sends SIGTERM and resolves with the exit code and how long the exit took. */
async function terminate(proc: ServiceProcess, timeoutMs = EXIT_TIMEOUT_MS): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  proc.child.kill('SIGTERM');
  const code = await Promise.race([proc.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (code === 'timeout') throw new Error(`${proc.name} did not exit within ${timeoutMs} ms of SIGTERM; output:\n${proc.output()}`);
  return { code, ms: Date.now() - started };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, procs: ServiceProcess[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    const dead = procs.find((p) => !p.running());
    if (dead) throw new Error(`waiting for ${what}: ${dead.name} exited early; output:\n${dead.output()}`);
    if (Date.now() > deadline) {
      const outputs = procs.map((p) => `--- ${p.name}:\n${p.output()}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${outputs}`);
    }
    await sleep(50);
  }
}

// ---- the cluster ----------------------------------------------------------------------------

let root: string;
let modelsDir: string;
let s3: S3Handle;
/** Built ONNX graphs, keyed by content hash: kept across runs so reruns skip the build. */
const cacheDir = join(tmpdir(), 'fooocus-scalein-test-onnx-cache');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-scalein-'));
  ({ modelsDir } = prepareModelsDir(root)); // tiny checkpoint hard-linked into checkpoints/
  mkdirSync(cacheDir, { recursive: true });
  s3 = await startS3({ buckets: [] });
});
afterAll(async () => {
  await killAll();
  await s3?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('graceful scale-in (real worker and API processes, Postgres + JetStream + S3)', () => {
  let pg: PostgresHandle;
  let nats: NatsHandle;
  let backends: Backends;
  let clusterEnv: Record<string, string>;

  afterEach(async () => {
    await killAll();
    await backends?.close();
    await Promise.all([pg?.stop(), nats?.stop()]);
  });

  /** Fresh database + NATS server + bucket; migrations applied; the test's own backends. */
  async function openCluster(): Promise<void> {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    clusterEnv = {
      DATABASE_URL: pg.url,
      NATS_URL: nats.url,
      S3_BUCKET: `scalein-${randomBytes(4).toString('hex')}`,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      S3_CREATE_BUCKET: 'true',
      // Every process opens the same durable consumer: the same values everywhere.
      ACK_WAIT_MS: String(ACK_WAIT_MS),
      MAX_DELIVERIES: '3',
      DATA_DIR: join(root, 'data'),
    };
    backends = await createBackends(storageEnvSchema.parse(clusterEnv), { role: 'api', migrate: true });
  }

  function startWorkerProcess(workerId: string, graceMs: number, metricsPort = 0): ServiceProcess {
    return spawnService(workerId, 'services/worker/main.ts', {
      ...clusterEnv,
      WORKER_ID: workerId,
      MODELS_DIR: modelsDir,
      ENGINE_CACHE_DIR: cacheDir,
      SHUTDOWN_GRACE_MS: String(graceMs),
      HEARTBEAT_INTERVAL_MS: '1000',
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'warn',
    });
  }

  async function startApiProcess(name: string): Promise<{ proc: ServiceProcess; url: string }> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnService(name, 'services/api/main.ts', {
      ...clusterEnv,
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_BASE_URL: url,
      MODELS_DIR: modelsDir,
      PRESETS_DIR: join(REPO, 'presets'),
      SSE_RETRY_MS: String(SSE_RETRY_MS),
      SHUTDOWN_GRACE_MS: '5000',
      OUTBOX_RELAY_INTERVAL_MS: '100',
      LOG_LEVEL: 'warn',
    });
    await waitFor(
      `${name} /readyz`,
      async () => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200,
      30_000,
      [proc],
    );
    return { proc, url };
  }

  /** The API's half of the path: a FooocusAPI body normalised, task + outbox in one commit, relayed. */
  const submit = (steps: number, seed: number) =>
    submitTask(backends, { base_model_name: CHECKPOINT_NAME, overwrite_step: steps, image_seed: seed });

  const getTask = async (id: string): Promise<Task> => {
    const task = await backends.store.get(id);
    if (!task) throw new Error(`task ${id} is gone`);
    return task;
  };

  const waitForStatus = (id: string, statuses: TaskStatus[], procs: ServiceProcess[], timeoutMs = TASK_TIMEOUT_MS) =>
    waitFor(`task ${id} to be ${statuses.join('|')}`, async () => {
      const task = await getTask(id);
      return statuses.includes(task.status) ? task : null;
    }, timeoutMs, procs);

  /** Running AND sampling (past model loading), with at least `minLeft` steps still to go. */
  const waitForSampling = (id: string, procs: ServiceProcess[], timeoutMs = TASK_TIMEOUT_MS) =>
    waitFor(`task ${id} to be sampling`, async () => {
      const task = await getTask(id);
      if (task.status !== 'running') {
        if (task.status !== 'queued') throw new Error(`task ${id} became ${task.status} before it was seen sampling`);
        return null;
      }
      return task.progress?.message.startsWith('Sampling step') ? task : null;
    }, timeoutMs, procs);

  const eventTypes = async (id: string) => (await backends.events.replay(id, 0)).map((e: TaskEventEnvelope) => e.event);
  const TERMINAL_EVENTS = ['finished', 'failed', 'canceled'];

  async function expectPngInBucket(key: string): Promise<void> {
    const blob = await backends.blobs.get(key);
    expect(blob, `${key} in S3`).not.toBeNull();
    expect(blob!.contentType).toBe('image/png');
    const meta = await sharp(blob!.bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'png', width: 128, height: 128 });
  }

  const waitForIdleDispatch = (procs: ServiceProcess[]) =>
    waitFor('no waiting or in-flight dispatch', async () => {
      const stats = await backends.dispatcher.stats();
      return stats.waiting === 0 && stats.inFlight === 0 ? stats : null;
    }, 15_000, procs);

  it('worker SIGTERM mid-task with a short grace: the task is released (queued, not failed), A exits 0, worker B finishes it', async () => {
    await openCluster();
    const workerA = startWorkerProcess('worker-a', 200);
    const id = await submit(LONG_STEPS, 11);

    const sampling = await waitForSampling(id, [workerA]);
    expect(sampling).toMatchObject({ status: 'running', attempt: 1, workerId: 'worker-a' });
    const before = await getTask(id);
    expect(before.status, 'still running when the signal is sent').toBe('running');
    expect(before.progress?.step ?? 0).toBeLessThan(LONG_STEPS);

    const exit = await terminate(workerA);
    expect(exit.code, workerA.output()).toBe(0);
    expect(exit.ms, 'exits promptly: grace 200 ms, then abort within a step').toBeLessThan(15_000);
    expect(workerA.output()).not.toMatch(/shutdown failed|"level":(50|60)/);

    // Released, not failed: back in the queue with a fresh dispatch waiting for another worker.
    const released = await getTask(id);
    expect(released).toMatchObject({ status: 'queued', attempt: 1, workerId: null, results: [], error: null, finishedAt: null });
    expect(await backends.dispatcher.stats()).toEqual({ waiting: 1, inFlight: 0 });
    const afterA = await eventTypes(id);
    expect(afterA.filter((e) => TERMINAL_EVENTS.includes(e.type))).toEqual([]);
    expect(afterA[0]).toEqual({ type: 'started', attempt: 1, workerId: 'worker-a' });

    const workerB = startWorkerProcess('worker-b', 200);
    const done = await waitForStatus(id, ['finished', 'stopped', 'failed', 'canceled'], [workerB]);
    expect(done).toMatchObject({ status: 'finished', attempt: 2, workerId: 'worker-b', error: null });
    expect(done.results).toHaveLength(1);
    expect(done.results[0].key).toContain(`${id}-a2-0.png`);
    await expectPngInBucket(done.results[0].key);

    // Exactly one terminal state, and both attempts on record.
    await waitForIdleDispatch([workerB]);
    const events = await eventTypes(id);
    expect(events.filter((e) => TERMINAL_EVENTS.includes(e.type))).toEqual([{ type: 'finished', results: done.results }]);
    expect(events.filter((e) => e.type === 'started')).toEqual([
      { type: 'started', attempt: 1, workerId: 'worker-a' },
      { type: 'started', attempt: 2, workerId: 'worker-b' },
    ]);
    expect(events.at(-1)?.type).toBe('finished');
    expect((await terminate(workerB)).code, workerB.output()).toBe(0);
    expect(await getTask(id)).toMatchObject({ status: 'finished', attempt: 2 }); // stays terminal
  }, TEST_TIMEOUT_MS);

  it('worker SIGTERM with enough grace: A finishes the running task, takes no new one and exits 0; the queued task waits for worker B', async () => {
    await openCluster();
    const metricsPort = await freePort();
    const workerA = startWorkerProcess('worker-a', 60_000, metricsPort);
    const first = await submit(LONG_STEPS, 21);
    await waitForSampling(first, [workerA]);
    const second = await submit(3, 22); // queued behind the running task (one in flight per worker)
    const before = await getTask(first);
    expect(before.status, 'still running when the signal is sent').toBe('running');

    const signalledAt = Date.now();
    const exitPromise = terminate(workerA, TASK_TIMEOUT_MS);
    // While it finishes, /healthz says it is stopping, and it is never on the second task.
    for (;;) {
      const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`)
        .then((r) => r.json() as Promise<{ stopping: boolean; task: string | null }>)
        .catch(() => null);
      if (!health || !workerA.running()) break; // already finished and exited
      expect(health.task).not.toBe(second);
      if (health.stopping) {
        expect([first, null]).toContain(health.task);
        break;
      }
      await sleep(20);
    }
    const exit = await exitPromise;
    expect(exit.code, workerA.output()).toBe(0);
    expect(workerA.output()).not.toMatch(/shutdown failed|"level":(50|60)/);

    const finished = await getTask(first);
    expect(finished).toMatchObject({ status: 'finished', attempt: 1, workerId: 'worker-a', error: null });
    expect(finished.finishedAt!.getTime(), 'finished after the signal, within the grace').toBeGreaterThan(signalledAt - 100);
    expect(finished.results).toHaveLength(1);
    expect(finished.results[0].key).toContain(`${first}-a1-0.png`);
    await expectPngInBucket(finished.results[0].key);
    const firstEvents = await eventTypes(first);
    expect(firstEvents.filter((e) => e.type === 'started')).toHaveLength(1); // deliveryCount stayed 1
    expect(firstEvents.filter((e) => TERMINAL_EVENTS.includes(e.type)).map((e) => e.type)).toEqual(['finished']);

    // A never claimed the second task: still queued, never attempted, its dispatch waiting.
    const waiting = await getTask(second);
    expect(waiting).toMatchObject({ status: 'queued', attempt: 0, workerId: null, startedAt: null });
    expect(await eventTypes(second)).toEqual([]);
    expect(await backends.dispatcher.stats()).toEqual({ waiting: 1, inFlight: 0 });
    await sleep(500);
    expect((await getTask(second)).status).toBe('queued');

    const workerB = startWorkerProcess('worker-b', 200);
    const done = await waitForStatus(second, ['finished', 'stopped', 'failed', 'canceled'], [workerB]);
    expect(done).toMatchObject({ status: 'finished', attempt: 1, workerId: 'worker-b', error: null });
    await expectPngInBucket(done.results[0].key);
    await waitForIdleDispatch([workerB]);
    expect((await terminate(workerB)).code, workerB.output()).toBe(0);
    expect(await getTask(first)).toMatchObject({ status: 'finished', attempt: 1, workerId: 'worker-a' }); // untouched by B
  }, TEST_TIMEOUT_MS);

  it('API SIGTERM with an open SSE generate stream: `retry:` then a clean end, exit 0, the task stays queued; a restarted API and a worker finish it', async () => {
    await openCluster();
    const api = await startApiProcess('api-1');

    // No worker runs, so the stream stays open.
    const controller = new AbortController();
    const response = await fetch(`${api.url}/v1/engine/generate/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: 'a red fox in the snow',
        base_model_name: CHECKPOINT_NAME,
        overwrite_width: 128,
        overwrite_height: 128,
        overwrite_step: 3,
        style_selections: [],
        image_seed: 5,
        stream_output: true,
      }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const id = response.headers.get('x-task-id');
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let ended = false;
    let readError: unknown = null;
    const reading = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        ended = true;
      } catch (err) {
        readError = err;
      }
    })();
    // The stream's opening `retry:` block (event ids on) shows the response is flowing.
    await waitFor('the stream to open', async () => text.includes('retry:'), 10_000, [api.proc]);
    await sleep(300);
    expect(ended).toBe(false);
    expect((await getTask(id!)).status).toBe('queued');
    const beforeSignal = text.length;

    const exitPromise = terminate(api.proc);
    const streamEnd = await Promise.race([reading.then(() => 'ended' as const), sleep(15_000).then(() => 'open' as const)]);
    expect(streamEnd, 'the SSE stream is ended by the drain').toBe('ended');
    expect(readError, 'the stream ends cleanly, not with a reset').toBeNull();
    expect(ended).toBe(true);
    const afterSignal = text.slice(beforeSignal);
    // The last thing the client reads is the reconnect hint, as its own block.
    expect(afterSignal).toMatch(new RegExp(`(^|\\r\\n\\r\\n)retry: ${SSE_RETRY_MS}\\r\\n\\r\\n$`));
    expect(afterSignal).not.toMatch(/"message": "Finished"/); // no fake final event

    const exit = await exitPromise;
    expect(exit.code, api.proc.output()).toBe(0);
    expect(api.proc.output()).not.toMatch(/cleanup failed|"level":(50|60)/);

    // The task is untouched by the API going away.
    expect(await getTask(id!)).toMatchObject({ status: 'queued', attempt: 0, results: [], error: null });

    // The client comes back (to another replica) after `retry:`; a worker runs the task.
    const api2 = await startApiProcess('api-2');
    const worker = startWorkerProcess('worker-b', 200);
    const resumed = await fetch(`${api2.url}/tasks/${id}/events`);
    expect(resumed.status).toBe(200);
    const resumedText = await Promise.race([resumed.text(), sleep(TASK_TIMEOUT_MS).then(() => null)]);
    expect(resumedText, `resumed stream ended; worker output:\n${worker.output()}`).not.toBeNull();
    const dataLines = resumedText!.split('\r\n').filter((l) => l.startsWith('data: {'));
    const last = JSON.parse(dataLines.at(-1)!.slice('data: '.length)) as { progress: number; message: string; images: string[] };
    expect(last).toMatchObject({ progress: 100, message: 'Finished' });
    expect(last.images).toHaveLength(1);

    const done = await getTask(id!);
    expect(done).toMatchObject({ status: 'finished', attempt: 1, workerId: 'worker-b', error: null });
    await expectPngInBucket(done.results[0].key);
    const image = await fetch(last.images[0]);
    expect(image.status).toBe(200);
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).format).toBe('png');
    const events = await eventTypes(id!);
    expect(events.filter((e) => TERMINAL_EVENTS.includes(e.type)).map((e) => e.type)).toEqual(['finished']);

    expect((await terminate(worker)).code, worker.output()).toBe(0);
    expect((await terminate(api2.proc)).code, api2.proc.output()).toBe(0);
    controller.abort();
  }, TEST_TIMEOUT_MS);
});
