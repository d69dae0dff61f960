/**
 * npm run bench:api — the API tier on the cluster wiring (real Postgres, NATS JetStream and an
 * S3-compatible server, started here on free loopback ports by the test harness), each figure
 * printed beside a baseline measured in the same run:
 *
 *  1. Async submit: `POST /v1/engine/generate/` with `async_process: true` (zod validation,
 *     normalisation, one transaction inserting task + outbox row, a direct JetStream publish)
 *     from BENCH_CONCURRENCY clients, BENCH_REQUESTS requests: throughput and p50/p99 latency.
 *     Baseline: a bare Express route doing one single-row Postgres insert of the same body
 *     through a pg pool of the same size, driven the same way.
 *  2. Dispatch latency: submit → the worker's `started` event (its envelope time), one task at
 *     a time into an idle real worker (the engine on the tiny golden checkpoint, 64×64, one
 *     step). Baseline: a bare JetStream publish → pull-consumer receive on the same server.
 *  3. SSE fan-out: BENCH_SSE_STREAMS clients on `GET /tasks/{id}/events` for one task while
 *     BENCH_SSE_EVENTS progress events are emitted on the event bus the way a worker emits
 *     them; lag = client receive time − emit time, and every event must reach every stream.
 *     Baseline: the same number of in-process event-bus subscribers (the bus alone, no HTTP).
 *
 * Everything runs in this one process on this machine's cores, so the load generator competes
 * with the servers it measures, as it does for the baselines. Ratios are what to compare.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import express from 'express';
import pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp } from '../services/api/app.ts';
import { startBackgroundLoops } from '../services/api/backgroundLoops.ts';
import { parseApiConfig, type ApiConfig } from '../services/api/config.ts';
import { loadPresets } from '../services/core/presets/loadPresets.ts';
import { defaultStyleCatalog } from '../services/core/styles/styleCatalog.ts';
import { EngineHost } from '../services/engine/engineHost.ts';
import { createBackends, type Backends } from '../services/wiring/createBackends.ts';
import { parseWorkerConfig } from '../services/worker/config.ts';
import { runWorker } from '../services/worker/runWorker.ts';
import { startNats, startPostgres, startS3, type NatsHandle, type PostgresHandle, type S3Handle } from '../test/harness/index.ts';

const shared = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../shared');
const TINY = join(shared, 'golden/tiny-sdxl.safetensors');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DISPATCHES = Number(process.env.BENCH_DISPATCHES ?? 30);
const SSE_STREAMS = Number(process.env.BENCH_SSE_STREAMS ?? 200);
const SSE_EVENTS = Number(process.env.BENCH_SSE_EVENTS ?? 50);
const PG_POOL_MAX = 10; // the task store's pool size (services/infra/postgres/connectPostgres.ts)

const BODY = {
  prompt: 'a lighthouse on a cliff at dusk',
  base_model_name: 'tiny-sdxl.safetensors',
  loras: [],
  style_selections: [],
  overwrite_width: 64,
  overwrite_height: 64,
  overwrite_step: 1,
  async_process: true,
};

interface Stats { n: number; p50: number; p99: number; mean: number }

function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

const ms = (v: number) => `${v.toFixed(2)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** REQUESTS POSTs from CONCURRENCY clients; per-request latency and overall throughput. */
async function load(url: string, body: unknown): Promise<{ perSecond: number; latency: Stats }> {
  const payload = JSON.stringify(body);
  const latencies: number[] = [];
  let next = 0;
  const client = async () => {
    while (next < REQUESTS) {
      next++;
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      latencies.push(performance.now() - t0);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: latencies.length / seconds, latency: stats(latencies) };
}

async function listen(app: express.Express | ReturnType<typeof createApp>['app']): Promise<{ server: Server; base: string }> {
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server) => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });

interface Cluster { backends: Backends; config: ApiConfig; pg: PostgresHandle; nats: NatsHandle; base: string; server: Server; stop(): Promise<void> }

/** A fresh database and NATS server per phase, so a phase never sees another's backlog. */
async function startCluster(s3: S3Handle, modelsDir: string, stream: string): Promise<Cluster> {
  const [pgHandle, nats] = await Promise.all([startPostgres(), startNats()]);
  const config = parseApiConfig({
    PORT: '0',
    DATABASE_URL: pgHandle.url,
    NATS_URL: nats.url,
    NATS_STREAM: stream,
    NATS_CONSUMER: `${stream.toLowerCase()}-workers`,
    S3_BUCKET: `bench-${stream.toLowerCase()}`,
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    S3_CREATE_BUCKET: 'true',
    MODELS_DIR: modelsDir,
    LOG_LEVEL: 'silent',
  });
  const backends = await createBackends(config, { migrate: true, role: 'api' });
  const registry = new Registry();
  const presets = await loadPresets(config.PRESETS_DIR, { styleNames: defaultStyleCatalog() });
  const logger = pino({ level: 'silent' });
  const api = createApp({ ...backends, config, logger, registry, presets });
  const loops = startBackgroundLoops({ ...backends, config, logger, registry });
  const { server, base } = await listen(api.app);
  return {
    backends,
    config,
    pg: pgHandle,
    nats,
    base,
    server,
    async stop() {
      await close(server);
      await loops.stop();
      await backends.close();
      await Promise.all([pgHandle.stop(), nats.stop()]);
    },
  };
}

async function benchSubmit(cluster: Cluster): Promise<void> {
  // Baseline: the same body, one INSERT, through a pool of the task store's size.
  const pool = new pg.Pool({ connectionString: cluster.pg.url, max: PG_POOL_MAX });
  await pool.query('CREATE TABLE bench_rows (id text PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');
  const bare = express();
  bare.post('/bench', express.json(), async (req, res) => {
    const id = randomUUID();
    await pool.query('INSERT INTO bench_rows (id, body) VALUES ($1, $2)', [id, req.body]);
    res.json({ id });
  });
  const baseline = await listen(bare);
  await load(`${baseline.base}/bench`, BODY); // warm-up of both paths (JIT, pools)
  await load(`${cluster.base}/v1/engine/generate/`, BODY);
  const b = await load(`${baseline.base}/bench`, BODY);
  const f = await load(`${cluster.base}/v1/engine/generate/`, BODY);
  await close(baseline.server);
  await pool.end();

  console.log(`\n1. async submit (${REQUESTS} requests, ${CONCURRENCY} concurrent clients)`);
  console.log(`   baseline  bare Express + one pg INSERT   ${b.perSecond.toFixed(0)} req/s   p50 ${ms(b.latency.p50)}   p99 ${ms(b.latency.p99)}`);
  console.log(`   fooocus   POST /v1/engine/generate/      ${f.perSecond.toFixed(0)} req/s   p50 ${ms(f.latency.p50)}   p99 ${ms(f.latency.p99)}`);
  console.log(`   ratio     throughput ${ratio(f.perSecond, b.perSecond)}   p50 ${ratio(f.latency.p50, b.latency.p50)}   p99 ${ratio(f.latency.p99, b.latency.p99)}`);
}

async function benchDispatch(cluster: Cluster, modelsDir: string, cacheDir: string): Promise<void> {
  // Baseline: bare JetStream publish → pull consumer receive, one message at a time.
  const nc = await connect({ servers: cluster.nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw'] });
  await jsm.consumers.add('BENCH_RAW', { durable_name: 'raw', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  const consumer = await js.consumers.get('BENCH_RAW', 'raw');
  const sentAt = new Map<string, number>();
  const raw: number[] = [];
  const messages = await consumer.consume({ max_messages: 1 });
  const received = (async () => {
    for await (const m of messages) {
      raw.push(performance.now() - sentAt.get(m.string())!);
      m.ack();
      if (raw.length === DISPATCHES + 5) break;
    }
  })();
  for (let i = 0; i < DISPATCHES + 5; i++) {
    const id = `m${i}`;
    const before = raw.length;
    sentAt.set(id, performance.now());
    await js.publish('bench.raw', id, { msgID: id });
    while (raw.length === before) await new Promise((r) => setTimeout(r, 1));
  }
  await received;
  await nc.close();

  const engine = new EngineHost({ cacheDir });
  const worker = await runWorker({
    ...cluster.backends,
    engine,
    config: parseWorkerConfig({ WORKER_ID: 'bench-worker', MODELS_DIR: modelsDir, HEARTBEAT_INTERVAL_MS: '1000' }),
  });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < DISPATCHES + 5; i++) {
      const t0 = Date.now();
      const res = await fetch(`${cluster.base}/v1/engine/generate/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
      const { task_id: id } = (await res.json()) as { task_id: string };
      for (;;) {
        const task = await cluster.backends.store.get(id);
        if (task && (task.status === 'finished' || task.status === 'failed')) {
          if (task.status === 'failed') throw new Error(`bench task failed: ${JSON.stringify(task.error)}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      const started = (await cluster.backends.events.replay(id, 0)).find((e) => e.event.type === 'started');
      if (!started) throw new Error(`no started event for ${id}`);
      if (i >= 5) latencies.push(started.at - t0); // the first tasks load the model
    }
  } finally {
    await worker.stop({ graceMs: 0 });
    await engine.close();
  }
  const b = stats(raw.slice(5));
  const f = stats(latencies);
  console.log(`\n2. dispatch latency (${DISPATCHES} tasks, one at a time into an idle worker)`);
  console.log(`   baseline  bare JetStream publish → receive          p50 ${ms(b.p50)}   p99 ${ms(b.p99)}`);
  console.log(`   fooocus   submit → worker started (claimed, event)   p50 ${ms(f.p50)}   p99 ${ms(f.p99)}   (ms clock)`);
  console.log(`   ratio     p50 ${ratio(f.p50, b.p50)}   p99 ${ratio(f.p99, b.p99)}`);
}

/** Opens `n` SSE readers; resolves with per-event lags once every reader saw `expect` bench events. */
async function sseReaders(url: string, n: number, ready: () => Promise<void>, emitAll: () => Promise<void>): Promise<{ lags: number[]; delivered: number }> {
  const lags: number[] = [];
  let delivered = 0;
  let connected = 0;
  const controllers: AbortController[] = [];
  const done: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const controller = new AbortController();
    controllers.push(controller);
    done.push(
      (async () => {
        const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
        if (res.status !== 200) throw new Error(`SSE answered ${res.status}`);
        connected++;
        const decoder = new TextDecoder();
        let buffer = '';
        let seen = 0;
        for await (const chunk of res.body!) {
          // FooocusAPI frames end lines with CRLF (sse-starlette).
          buffer += decoder.decode(chunk as Uint8Array, { stream: true }).replaceAll('\r\n', '\n');
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const m = /"message": ?"bench-sse (\d+(?:\.\d+)?)"/.exec(frame);
            if (!m) continue;
            lags.push(performance.timeOrigin + performance.now() - Number(m[1]));
            delivered++;
            if (++seen === SSE_EVENTS) return;
          }
        }
      })().catch((err: unknown) => {
        if (!(err instanceof Error && err.name === 'AbortError')) throw err;
      }),
    );
  }
  while (connected < n) await new Promise((r) => setTimeout(r, 10));
  await ready();
  await emitAll();
  const timeout = setTimeout(() => controllers.forEach((c) => c.abort()), 60_000);
  await Promise.all(done);
  clearTimeout(timeout);
  controllers.forEach((c) => c.abort());
  return { lags, delivered };
}

async function benchSse(cluster: Cluster): Promise<void> {
  const res = await fetch(`${cluster.base}/v1/engine/generate/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
  const { task_id: id } = (await res.json()) as { task_id: string };
  const { events } = cluster.backends;
  const emitAll = (label: string) => async () => {
    for (let i = 0; i < SSE_EVENTS; i++) {
      const now = performance.timeOrigin + performance.now();
      await events.emit(id, { type: 'progress', step: i, total: SSE_EVENTS, percent: 10, message: `${label} ${now}` });
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  // Baseline: in-process bus subscribers, the same count.
  const busLags: number[] = [];
  const unsubscribes = await Promise.all(
    Array.from({ length: SSE_STREAMS }, () =>
      events.subscribe(id, (envelope) => {
        const e = envelope.event;
        if (e.type === 'progress' && e.message.startsWith('bench-bus ')) busLags.push(performance.timeOrigin + performance.now() - Number(e.message.slice(10)));
      }),
    ),
  );
  await new Promise((r) => setTimeout(r, 200));
  await emitAll('bench-bus')();
  const deadline = Date.now() + 30_000;
  while (busLags.length < SSE_STREAMS * SSE_EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(unsubscribes.map((u) => u()));

  const sse = await sseReaders(`${cluster.base}/tasks/${id}/events`, SSE_STREAMS, () => new Promise((r) => setTimeout(r, 200)), emitAll('bench-sse'));
  const b = stats(busLags);
  const f = stats(sse.lags);
  const expected = SSE_STREAMS * SSE_EVENTS;
  console.log(`\n3. SSE fan-out (${SSE_STREAMS} concurrent streams on one task, ${SSE_EVENTS} progress events 20 ms apart)`);
  console.log(`   baseline  ${SSE_STREAMS} event-bus subscribers   delivered ${busLags.length}/${expected}   lag p50 ${ms(b.p50)}   p99 ${ms(b.p99)}`);
  console.log(`   fooocus   ${SSE_STREAMS} SSE clients (HTTP)      delivered ${sse.delivered}/${expected}   lag p50 ${ms(f.p50)}   p99 ${ms(f.p99)}`);
  console.log(`   ratio     p50 ${ratio(f.p50, b.p50)}   p99 ${ratio(f.p99, b.p99)}`);
  if (sse.delivered !== expected) throw new Error(`SSE lost events: ${sse.delivered} of ${expected}`);
}

async function main(): Promise<void> {
  const modelsDir = mkdtempSync(join(tmpdir(), 'bench-api-models-'));
  mkdirSync(join(modelsDir, 'checkpoints'));
  symlinkSync(TINY, join(modelsDir, 'checkpoints', 'tiny-sdxl.safetensors'));
  const cacheDir = join(tmpdir(), 'bench-api-onnx-cache');
  const s3 = await startS3({ buckets: [] });
  console.log(`bench:api — cluster wiring on loopback (Postgres, NATS JetStream, S3 started here); node ${process.version}`);
  try {
    const submit = await startCluster(s3, modelsDir, 'BENCH_SUBMIT');
    try {
      await benchSubmit(submit);
    } finally {
      await submit.stop();
    }
    const run = await startCluster(s3, modelsDir, 'BENCH_RUN');
    try {
      await benchDispatch(run, modelsDir, cacheDir);
      await benchSse(run);
    } finally {
      await run.stop();
    }
  } finally {
    await s3.stop();
    rmSync(modelsDir, { recursive: true, force: true });
  }
}

await main();
