// The worker's consume loop end to end, run unchanged against both wirings built by
// createBackends: cluster (Postgres + JetStream + S3, real servers from the harness) and
// embedded (PGlite + in-process + local files). The engine is the real EngineHost on the tiny
// golden checkpoint at 128×128 and a few steps; faults are injected around the real
// adapters (a blob store whose put fails, a store whose complete waits for a rival attempt),
// never by faking the engine. Timers are shrunk (heartbeat 200 ms, ack wait 2 s, retry 200 ms).
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { storageEnvSchema, type StorageEnv } from '../../services/config/storageConfig.ts';
import type { BlobStore, TaskStore } from '../../services/core/ports.ts';
import type { TaskEvent, TaskEventEnvelope } from '../../services/core/task/taskEvents.ts';
import type { Task, TaskOutput } from '../../services/core/task/taskRecord.ts';
import type { TaskStatus } from '../../services/core/task/taskStatus.ts';
import { EngineHost } from '../../services/engine/engineHost.ts';
import { createBackends, type Backends } from '../../services/wiring/createBackends.ts';
import { parseWorkerConfig } from '../../services/worker/config.ts';
import { runWorker, type WorkerHandle } from '../../services/worker/runWorker.ts';
import { startNats, type NatsHandle } from '../harness/startNats.ts';
import { startPostgres, type PostgresHandle } from '../harness/startPostgres.ts';
import { startS3, type S3Handle } from '../harness/startS3.ts';
import { newTaskId, relayPendingOutbox, submitTask } from './support/submitTask.ts';

const TINY_CHECKPOINT = '/work/shared/golden/tiny-sdxl.safetensors';
const CHECKPOINT_NAME = 'tiny-sdxl.safetensors';
const ACK_WAIT_MS = 2_000;
const MAX_DELIVERIES = 2;

const logger = pino({ level: process.env.WORKER_TEST_LOG ?? 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface Wiring {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh, isolated configuration (database, stream, bucket / data dir) for one test. */
  config(): Promise<{ env: StorageEnv; cleanup(): Promise<void> }>;
}

const settings = { ACK_WAIT_MS: String(ACK_WAIT_MS), MAX_DELIVERIES: String(MAX_DELIVERIES) };

let s3: S3Handle | null = null;
let pgliteTemplate: string | null = null;
const wirings: Wiring[] = [
  {
    name: 'Postgres + JetStream + S3',
    async setup() {
      s3 = await startS3({ buckets: [] });
    },
    async teardown() {
      await s3?.stop();
    },
    async config() {
      const [pg, nats]: [PostgresHandle, NatsHandle] = await Promise.all([startPostgres(), startNats()]);
      const env = storageEnvSchema.parse({
        ...settings,
        DATABASE_URL: pg.url,
        NATS_URL: nats.url,
        S3_BUCKET: `worker-${randomBytes(4).toString('hex')}`,
        S3_ENDPOINT: s3!.endpoint,
        S3_ACCESS_KEY_ID: s3!.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3!.credentials.secretAccessKey,
        S3_CREATE_BUCKET: 'true',
      });
      return {
        env,
        async cleanup() {
          await Promise.all([pg.stop(), nats.stop()]);
        },
      };
    },
  },
  {
    name: 'PGlite + in-process + files',
    // A first PGlite start in an empty directory runs initdb (~10 s); each test starts from a
    // copy of one migrated template instead (~1.5 s), still a fresh database per test.
    async setup() {
      pgliteTemplate = mkdtempSync(join(tmpdir(), 'fooocus-worker-pglite-'));
      const template = await createBackends(storageEnvSchema.parse({ ...settings, DATA_DIR: pgliteTemplate }), { migrate: true });
      await template.close();
    },
    async teardown() {
      if (pgliteTemplate) rmSync(pgliteTemplate, { recursive: true, force: true });
    },
    async config() {
      const dataDir = mkdtempSync(join(tmpdir(), 'fooocus-worker-data-'));
      cpSync(join(pgliteTemplate!, 'pglite'), join(dataDir, 'pglite'), { recursive: true });
      return {
        env: storageEnvSchema.parse({ ...settings, DATA_DIR: dataDir }),
        async cleanup() {
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

let modelsDir: string;
let engine: EngineHost;

beforeAll(() => {
  modelsDir = mkdtempSync(join(tmpdir(), 'fooocus-worker-models-'));
  mkdirSync(join(modelsDir, 'checkpoints'));
  symlinkSync(TINY_CHECKPOINT, join(modelsDir, 'checkpoints', CHECKPOINT_NAME));
  // Built graphs are keyed by content hash: one cache for all runs keeps reruns fast.
  engine = new EngineHost({ cacheDir: join(tmpdir(), 'fooocus-worker-test-onnx-cache') });
});
afterAll(async () => {
  await engine?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

describe.each(wirings)('worker on $name', (wiring) => {
  let backends: Backends;
  let cleanup: () => Promise<void>;
  const workers: WorkerHandle[] = [];

  beforeAll(() => wiring.setup());
  afterAll(() => wiring.teardown());
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 0 })));
    await backends?.close();
    await cleanup?.();
  });

  async function open(): Promise<Backends> {
    const config = await wiring.config();
    cleanup = config.cleanup;
    backends = await createBackends(config.env, { migrate: true, logger });
    return backends;
  }

  async function startWorker(
    id: string,
    overrides: { store?: TaskStore; blobs?: BlobStore; registry?: Registry; env?: Record<string, string> } = {},
  ): Promise<WorkerHandle> {
    const config = parseWorkerConfig({ WORKER_ID: id, MODELS_DIR: modelsDir, HEARTBEAT_INTERVAL_MS: '200', SHUTDOWN_GRACE_MS: '0', ...overrides.env });
    const worker = await runWorker({
      store: overrides.store ?? backends.store,
      dispatcher: backends.dispatcher,
      events: backends.events,
      blobs: overrides.blobs ?? backends.blobs,
      engine,
      config,
      logger,
      registry: overrides.registry,
      progressIntervalMs: 100,
      retryDelayMs: () => 200,
    });
    workers.push(worker);
    return worker;
  }

  /** The API's half of the path: normalise a FooocusAPI body, insert task + outbox, relay. */
  const submit = (body: Record<string, unknown>, id?: string) => submitTask(backends, { base_model_name: CHECKPOINT_NAME, ...body }, id);
  const relayOutbox = () => relayPendingOutbox(backends);

  const waitForStatus = (id: string, statuses: TaskStatus[], timeoutMs?: number) =>
    waitFor(`task ${id} to be ${statuses.join('|')}`, async () => {
      const task = await backends.store.get(id);
      return task && statuses.includes(task.status) ? task : null;
    }, timeoutMs);

  const waitForIdleDispatch = () =>
    waitFor('no waiting or in-flight dispatch', async () => {
      const stats = await backends.dispatcher.stats();
      return stats.waiting === 0 && stats.inFlight === 0 ? stats : null;
    }, 10_000);

  const eventsOf = async (id: string) => backends.events.replay(id, 0);
  const types = (events: TaskEventEnvelope[]) => events.map((e) => e.event.type);

  /** Live events; `onEvent` may act on them (send stop/skip, stop a worker). */
  async function watch(id: string, onEvent: (event: TaskEvent) => void = () => {}) {
    const seen: TaskEvent[] = [];
    const unsubscribe = await backends.events.subscribe(id, (envelope) => {
      seen.push(envelope.event);
      onEvent(envelope.event);
    });
    return { seen, unsubscribe };
  }

  const samplingImage = (event: TaskEvent, n: number) =>
    event.type === 'progress' && event.message.startsWith('Sampling step') && event.message.includes(`image ${n}/`);

  async function expectPng(output: TaskOutput, width: number, height: number) {
    const blob = await backends.blobs.get(output.key);
    expect(blob, output.key).not.toBeNull();
    expect(blob!.contentType).toBe('image/png');
    const meta = await sharp(blob!.bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'png', width, height });
  }

  it('runs a queued task: row finished with results, PNG in the blob store, events started → progress → finished in seq order, message acked', async () => {
    await open();
    const registry = new Registry();
    await startWorker('worker-a', { registry });
    const id = await submit({});

    const task = await waitForStatus(id, ['finished', 'failed', 'stopped']);
    expect(task).toMatchObject({ status: 'finished', attempt: 1, error: null, workerId: 'worker-a', preview: null });
    expect(task.results).toEqual([{ key: expect.stringMatching(new RegExp(`^outputs/\\d{4}-\\d{2}-\\d{2}/${id}-a1-0\\.png$`)), seed: '42', finishReason: 'SUCCESS', contentType: 'image/png' }]);
    expect(task.results[0].key.slice(8, 18)).toBe(new Date().toISOString().slice(0, 10)); // UTC date folder
    expect(task.progress).toMatchObject({ percent: 100, message: 'Saving image 1/1 to system ...' });
    await expectPng(task.results[0], 128, 128);

    const events = await eventsOf(id);
    const kinds = types(events);
    expect(kinds[0]).toBe('started');
    expect(kinds.at(-1)).toBe('finished');
    expect(kinds.slice(1, -1).every((k) => k === 'progress')).toBe(true);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(events[0].event).toEqual({ type: 'started', attempt: 1, workerId: 'worker-a' });
    expect(events.at(-1)!.event).toEqual({ type: 'finished', results: task.results });
    const sampling = events.map((e) => e.event).filter((e) => e.type === 'progress' && e.message.startsWith('Sampling step'));
    expect(sampling.length).toBeGreaterThan(0);
    const percents = events.map((e) => e.event).flatMap((e) => (e.type === 'progress' ? [e.percent] : []));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const withPreview = sampling.find((e) => e.type === 'progress' && e.preview);
    expect(withPreview).toBeDefined();
    if (withPreview?.type === 'progress') expect((await sharp(Buffer.from(withPreview.preview!, 'base64')).metadata()).format).toBe('png');

    await waitForIdleDispatch();
    const metrics = await registry.getMetricsAsJSON();
    const finished = metrics.find((m) => m.name === 'fooocus_tasks_finished_total');
    expect(finished?.values).toEqual([expect.objectContaining({ labels: { status: 'finished' }, value: 1 })]);
    expect(metrics.find((m) => m.name === 'fooocus_worker_busy')?.values[0].value).toBe(0);
  });

  it('an unknown model fails the task with model_missing, once: the message is termed, never redelivered', async () => {
    await open();
    await startWorker('worker-a');
    const id = await submit({ base_model_name: 'missing-model.safetensors' });

    const task = await waitForStatus(id, ['failed', 'finished']);
    expect(task).toMatchObject({ status: 'failed', attempt: 1, results: [] });
    expect(task.error).toMatchObject({ code: 'model_missing', message: expect.stringContaining('missing-model.safetensors') });
    await waitForIdleDispatch();
    await sleep(ACK_WAIT_MS + 500); // past the ack wait: nothing comes back
    expect((await backends.store.get(id))?.attempt).toBe(1);
    const events = await eventsOf(id);
    expect(types(events)).toEqual(['started', 'failed']);
    expect(events[1].event).toEqual({ type: 'failed', error: task.error });
  });

  it('a stale attempt cannot complete: its fenced complete returns null, its outputs are deleted, and the new attempt wins', async () => {
    await open();
    let staleResult: { outputs: TaskOutput[]; returned: Task | null } | null = null;
    // Worker A's complete waits until the task was requeued and re-claimed by worker B.
    const storeA: TaskStore = {
      ...backends.store,
      complete: async (taskId, attempt, results, options) => {
        await backends.store.requeueStale({ heartbeatOlderThanMs: 0 });
        await relayOutbox();
        await waitFor('worker B to claim', async () => ((await backends.store.get(taskId))?.attempt === 2 ? true : null));
        const returned = await backends.store.complete(taskId, attempt, results, options);
        staleResult = { outputs: results, returned };
        return returned;
      },
    };
    await startWorker('worker-a', { store: storeA });
    const id = await submit({});
    await waitForStatus(id, ['running']);
    await startWorker('worker-b');

    await waitFor('worker A to finish', async () => staleResult);
    const { outputs: staleOutputs, returned } = staleResult!;
    expect(returned).toBeNull();
    expect(staleOutputs.map((o) => o.key)).toEqual([expect.stringContaining(`${id}-a1-0.png`)]);

    const task = await waitForStatus(id, ['finished', 'failed']);
    expect(task).toMatchObject({ status: 'finished', attempt: 2, workerId: 'worker-b' });
    expect(task.results.map((r) => r.key)).toEqual([expect.stringContaining(`${id}-a2-0.png`)]);
    await expectPng(task.results[0], 128, 128);
    await waitFor('A to delete its outputs', async () => !(await backends.blobs.exists(staleOutputs[0].key)));
    await waitForIdleDispatch();
    const events = await eventsOf(id);
    expect(types(events).filter((t) => t === 'finished')).toHaveLength(1);
    expect(events.filter((e) => e.event.type === 'started').map((e) => e.event)).toEqual([
      { type: 'started', attempt: 1, workerId: 'worker-a' },
      { type: 'started', attempt: 2, workerId: 'worker-b' },
    ]);
  });

  it('stop control ends the running task as stopped, keeping the images finished before it', async () => {
    await open();
    await startWorker('worker-a');
    let sent = false;
    const id = newTaskId(); // watch before dispatch so no event is missed
    const watcher = await watch(id, (event) => {
      if (!sent && samplingImage(event, 2)) {
        sent = true;
        void backends.events.control(null, 'stop'); // FooocusAPI: "the running task"
      }
    });
    await submit({ prompt: 'a fox', overwrite_step: 8, image_seed: 7, image_number: 3 }, id);

    const task = await waitForStatus(id, ['stopped', 'finished', 'failed']);
    await watcher.unsubscribe();
    expect(task.status).toBe('stopped');
    expect(task.results.map((r) => [r.key.split('/').pop(), r.seed])).toEqual([[`${id}-a1-0.png`, '7']]);
    await expectPng(task.results[0], 128, 128);
    const events = await eventsOf(id);
    expect(events.at(-1)!.event).toEqual({ type: 'finished', results: task.results, stopped: true });
    await waitForIdleDispatch();
  });

  it('skip control drops the current image and continues with the next; the task finishes', async () => {
    await open();
    await startWorker('worker-a');
    let sent = false;
    const id = newTaskId();
    const watcher = await watch(id, (event) => {
      if (!sent && samplingImage(event, 1)) {
        sent = true;
        void backends.events.control(id, 'skip');
      }
    });
    await submit({ prompt: 'a fox', overwrite_step: 8, image_seed: 7, image_number: 2 }, id);

    const task = await waitForStatus(id, ['stopped', 'finished', 'failed']);
    await watcher.unsubscribe();
    expect(task.status).toBe('finished');
    expect(task.results.map((r) => [r.key.split('/').pop(), r.seed])).toEqual([[`${id}-a1-1.png`, '8']]);
  });

  it('stop({ graceMs: 0 }) during a task releases it, and a second worker completes it: no task lost', async () => {
    await open();
    const workerA = await startWorker('worker-a');
    let stopping: Promise<void> | null = null;
    const id = newTaskId();
    const watcher = await watch(id, (event) => {
      if (!stopping && samplingImage(event, 1)) stopping = workerA.stop({ graceMs: 0 });
    });
    await submit({ prompt: 'a fox', overwrite_step: 6, image_seed: 3, image_number: 2 }, id);

    await waitFor('worker A to start stopping', async () => stopping !== null);
    await stopping;
    await watcher.unsubscribe();
    const released = await backends.store.get(id);
    expect(released).toMatchObject({ status: 'queued', attempt: 1, workerId: null, results: [] });
    expect(await backends.dispatcher.stats()).toEqual({ waiting: 1, inFlight: 0 }); // the fresh dispatch

    await startWorker('worker-b');
    const task = await waitForStatus(id, ['finished', 'failed', 'stopped']);
    expect(task).toMatchObject({ status: 'finished', attempt: 2, workerId: 'worker-b' });
    expect(task.results.map((r) => r.key.split('/').pop())).toEqual([`${id}-a2-0.png`, `${id}-a2-1.png`]);
    await waitForIdleDispatch();
    const events = await eventsOf(id);
    expect(types(events).filter((t) => t === 'finished')).toHaveLength(1);
    expect(types(events).filter((t) => t === 'started')).toHaveLength(2);
  });

  it('a transient blob failure releases the attempt and naks; the retry succeeds', async () => {
    await open();
    let failures = 0;
    const flakyBlobs: BlobStore = {
      ...backends.blobs,
      put: async (key, body, contentType) => {
        if (failures++ === 0) throw Object.assign(new Error('connect ECONNRESET (injected)'), { code: 'ECONNRESET' });
        return backends.blobs.put(key, body, contentType);
      },
    };
    await startWorker('worker-a', { blobs: flakyBlobs });
    const id = await submit({});

    const task = await waitForStatus(id, ['finished', 'failed']);
    expect(task).toMatchObject({ status: 'finished', attempt: 2, error: null });
    expect(task.results.map((r) => r.key)).toEqual([expect.stringContaining(`${id}-a2-0.png`)]);
    await expectPng(task.results[0], 128, 128);
    await waitForIdleDispatch();
    expect(types(await eventsOf(id))).toEqual(expect.arrayContaining(['started', 'started', 'finished']));
  });

  it('an attempt past TASK_TIMEOUT_MS is aborted within a step and fails with timeout, once, its outputs deleted', async () => {
    await open();
    const putKeys: string[] = [];
    const recordingBlobs: BlobStore = {
      ...backends.blobs,
      put: async (key, body, contentType) => {
        putKeys.push(key);
        return backends.blobs.put(key, body, contentType);
      },
    };
    await startWorker('worker-a', { blobs: recordingBlobs, env: { TASK_TIMEOUT_MS: '1500' } });
    // 32 images take several seconds even on an idle machine: the limit falls mid-task.
    const id = await submit({ image_number: 32, overwrite_step: 20 });

    const task = await waitForStatus(id, ['finished', 'failed', 'stopped']);
    expect(task).toMatchObject({ status: 'failed', attempt: 1, results: [] });
    expect(task.error).toEqual({ code: 'timeout', message: expect.stringContaining('TASK_TIMEOUT_MS') });
    expect(putKeys.length).toBeLessThan(32);
    for (const key of putKeys) expect(await backends.blobs.exists(key), key).toBe(false);
    await waitForIdleDispatch();
    await sleep(ACK_WAIT_MS + 500); // termed: never redelivered
    expect((await backends.store.get(id))?.attempt).toBe(1);
    const events = await eventsOf(id);
    expect(types(events).filter((t) => t === 'failed')).toHaveLength(1);
    expect(types(events).at(-1)).toBe('failed');
  });

  it('when every delivery fails transiently, the last one fails the task with worker_crash and terms it', async () => {
    await open();
    const brokenBlobs: BlobStore = {
      ...backends.blobs,
      put: async () => {
        throw new Error('503 SlowDown (injected)');
      },
    };
    await startWorker('worker-a', { blobs: brokenBlobs });
    const id = await submit({});

    const task = await waitForStatus(id, ['finished', 'failed']);
    expect(task).toMatchObject({ status: 'failed', attempt: MAX_DELIVERIES });
    expect(task.error).toEqual({ code: 'worker_crash', message: expect.stringContaining('503 SlowDown (injected)') });
    await waitForIdleDispatch();
    const events = await eventsOf(id);
    expect(types(events).filter((t) => t === 'failed')).toHaveLength(1);
    expect(types(events).at(-1)).toBe('failed');
  });
});
