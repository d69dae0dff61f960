// Route-level tests of createApp over real in-process adapters (PGlite in memory, in-process
// dispatch and events, files in a temp dir) with a scripted stand-in for the worker: it
// claims, emits and completes through the same ports the real worker uses. The real worker
// and engine are exercised in test/e2e/api.test.ts; here we pin behaviours that need
// control over timing or failures (lost events, a failing store, drain).
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransientInfraError } from '../core/errors.ts';
import type { EventBus, TaskStore } from '../core/ports.ts';
import { loadPresets } from '../core/presets/loadPresets.ts';
import { createFsBlobStore } from '../infra/fs/createFsBlobStore.ts';
import { createInProcessDispatcher } from '../infra/inprocess/createInProcessDispatcher.ts';
import { createInProcessEventBus } from '../infra/inprocess/createInProcessEventBus.ts';
import { connectPglite } from '../infra/postgres/connectPglite.ts';
import type { DatabaseConnection } from '../infra/postgres/connectPostgres.ts';
import { createPostgresTaskStore } from '../infra/postgres/createPostgresTaskStore.ts';
import { createApp, type CreateAppOptions } from './app.ts';
import { parseApiConfig } from './config.ts';
import { parseFooocusTime } from './routes/tasks.ts';
import { pythonUtcNow } from './sse.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const JSON_HEADERS = { 'content-type': 'application/json' };

let db: DatabaseConnection;
let dir: string;
const servers: Server[] = [];

beforeAll(async () => {
  db = await connectPglite('memory');
  dir = mkdtempSync(join(tmpdir(), 'api-app-test-'));
});
afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function start(over: Partial<CreateAppOptions> = {}, env: Record<string, string> = {}) {
  const store = createPostgresTaskStore({ db: db.db });
  const dispatcher = createInProcessDispatcher();
  const events = createInProcessEventBus();
  const blobs = createFsBlobStore(join(dir, 'files'));
  const config = parseApiConfig({ PORT: '0', SYNC_RECHECK_MS: '200', SSE_PING_MS: '100', ...env });
  const presets = await loadPresets(join(import.meta.dirname, '../../presets'));
  const api = createApp({ store, dispatcher, events, blobs, config, presets, ...over });
  const server = api.app.listen(0);
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, api, store: (over.store ?? store) as TaskStore, dispatcher, events: (over.events ?? events) as EventBus, blobs };
}

/** A scripted worker: claim, a progress event, one PNG output, complete, finished event. */
function fakeWorker(env: Awaited<ReturnType<typeof start>>, bus: EventBus = env.events) {
  return env.dispatcher.consume(async (msg) => {
    const claim = await env.store.claim(msg.taskId, 'fake');
    if (!claim.claimed) return msg.ack();
    await bus.emit(msg.taskId, { type: 'started', attempt: claim.task.attempt, workerId: 'fake' });
    await bus.emit(msg.taskId, { type: 'progress', step: 1, total: 1, percent: 50, message: 'Sampling step 1/1, image 1/1 ...' });
    const key = `outputs/2024-07-05/${msg.taskId}-0.png`;
    await env.blobs.put(key, await sharp({ create: { width: 16, height: 16, channels: 3, background: '#0f0' } }).png().toBuffer(), 'image/png');
    const done = await env.store.complete(msg.taskId, claim.task.attempt, [{ key, seed: '1', finishReason: 'SUCCESS', contentType: 'image/png' }]);
    if (done) await bus.emit(msg.taskId, { type: 'finished', results: done.results });
    await msg.ack();
  });
}

describe('routing like Starlette', () => {
  it('GET / is 307 to /docs; wrong slash is 307 to the other variant before auth; wrong method 405; else 404', async () => {
    const { base } = await start({}, { API_KEYS: 'k' });
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([307, '/docs']);
    const gen = await fetch(`${base}/v1/engine/generate?x=1`, { method: 'POST', redirect: 'manual' });
    expect([gen.status, gen.headers.get('location')]).toEqual([307, `${base}/v1/engine/generate/?x=1`]);
    const tasks = await fetch(`${base}/tasks/`, { redirect: 'manual' });
    expect([tasks.status, tasks.headers.get('location')]).toEqual([307, `${base}/tasks`]);
    const wrongMethod = await fetch(`${base}/v1/engine/generate/`, { method: 'GET' });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toEqual({ detail: 'Method Not Allowed' });
    const missing = await fetch(`${base}/nope`);
    expect([missing.status, await missing.json()]).toEqual([404, { detail: 'Not Found' }]);
    const upper = await fetch(`${base}/TASKS`);
    expect(upper.status).toBe(404);
  });

  it('serves an OpenAPI 3.1 document whose schemas validate real responses', async () => {
    const env = await start();
    const spec: any = await (await fetch(`${env.base}/openapi.json`)).json();
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/engine/generate/', '/v1/engine/control', '/tasks', '/tasks/{task_id}', '/v1/engines/styles']));
    expect(spec.components.schemas.CommonRequest.properties.image_number).toMatchObject({ default: 1, maximum: 32 });
    expect(spec.components.securitySchemes.APIKeyHeader).toEqual({ type: 'apiKey', in: 'header', name: 'X-API-KEY' });

    const ajv = new Ajv2020({ strict: false });
    for (const [name, schema] of Object.entries(spec.components.schemas)) ajv.addSchema(schema as object, `#/components/schemas/${name}`);
    const worker = fakeWorker(env);
    try {
      const row = await (await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: '{"prompt":"x"}' })).json();
      expect(ajv.validate('#/components/schemas/TaskRow', row), JSON.stringify(ajv.errors)).toBe(true);
      const ack: any = await (await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: '{"async_process":true}' })).json();
      expect(ajv.validate('#/components/schemas/RecordResponse', ack), JSON.stringify(ajv.errors)).toBe(true);
    } finally {
      await worker.stop();
    }
    const docs = await (await fetch(`${env.base}/docs`)).text();
    expect(docs).toContain('id="problem-not-implemented"');
  });
});

describe('waiting for a task', () => {
  it('sync answers from the row when the terminal event is lost (watchdog re-read)', async () => {
    const env = await start();
    const lossy: EventBus = { ...env.events, emit: async (taskId, event) => ({ taskId, seq: 0, at: Date.now(), event }) };
    const worker = fakeWorker(env, lossy);
    try {
      // No terminal event ever arrives: without the watchdog this request would hang.
      const res = await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
      const body = await res.json();
      expect(body).toMatchObject({ task_status: 'finished', result: [expect.stringMatching(/\/outputs\/2024-07-05\/.+\.png$/)] });
    } finally {
      await worker.stop();
    }
  });

  it('a stream for a task that ended before the client subscribed gets its last event rebuilt from the row', async () => {
    const env = await start();
    const worker = fakeWorker(env, { ...env.events, emit: async (taskId, event) => ({ taskId, seq: 0, at: Date.now(), event }) });
    try {
      const ack: any = await (await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: '{"async_process":true}' })).json();
      for (let i = 0; i < 50 && (await env.store.get(ack.task_id))?.status !== 'finished'; i++) await sleep(20);
      const text = await (await fetch(`${env.base}/tasks/${ack.task_id}/events`)).text();
      // The resume route always sends retry: first; the rebuilt event has no id (no bus seq).
      expect(text).toMatch(/^retry: 3000\r\n\r\ndata: \{"progress": 100, "preview": null, "message": "Finished", "images": \["http:\/\/127\.0\.0\.1:0\/outputs\/[^"]+"\]\}\r\ndata: \r\n\r\n$/);
    } finally {
      await worker.stop();
    }
  });

  it('binary mode with no image answers 204', async () => {
    const env = await start();
    const worker = env.dispatcher.consume(async (msg) => {
      const claim = await env.store.claim(msg.taskId, 'fake');
      if (claim.claimed) {
        await env.store.fail(msg.taskId, claim.task.attempt, { code: 'engine_error', message: 'boom' });
        await env.events.emit(msg.taskId, { type: 'failed', error: { code: 'engine_error', message: 'boom' } });
      }
      await msg.ack();
    });
    try {
      const res = await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: { ...JSON_HEADERS, accept: 'image/png' }, body: '{}' });
      expect(res.status).toBe(204);
      const rec = await (await fetch(`${env.base}/tasks/${res.headers.get('x-task-id')}`)).json();
      expect(rec).toMatchObject({ task_status: 'failed', result: [], error: { code: 'engine_error', message: 'boom' } });
    } finally {
      await worker.stop();
    }
  });
});

describe('errors', () => {
  it('a store outage is 503 with Retry-After; an unexpected error is FooocusAPI’s plain-text 500', async () => {
    const base = await start();
    const down: TaskStore = {
      ...base.store,
      create: async () => {
        throw new TransientInfraError('database unavailable');
      },
      list: async () => {
        throw new Error('boom');
      },
    };
    const env = await start({ store: down });
    const res = await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    expect([res.status, res.headers.get('retry-after'), await res.json()]).toEqual([503, '5', { detail: 'database unavailable' }]);
    const boom = await fetch(`${env.base}/tasks`);
    expect([boom.status, boom.headers.get('content-type'), await boom.text()]).toEqual([500, 'text/plain; charset=utf-8', 'Internal Server Error']);
    const ready = await fetch(`${env.base}/readyz`);
    expect(ready.status).toBe(503);
  });

  it('a body over MAX_BODY_BYTES is 413 problem+json; a bad Idempotency-Key is 400', async () => {
    const env = await start({}, { MAX_BODY_BYTES: '1024' });
    const big = await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ prompt: 'x'.repeat(2000) }) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ type: '/docs#problem-payload-too-large', status: 413 });
    const bad = await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: { ...JSON_HEADERS, 'idempotency-key': 'a b' }, body: '{}' });
    expect(bad.status).toBe(400);
  });

  it('/tasks query validation and FooocusAPI time parsing', async () => {
    const env = await start();
    const r = await fetch(`${env.base}/tasks?page=x`);
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).detail[0]).toMatchObject({ type: 'int_parsing', loc: ['query', 'page'], input: 'x' });
    expect(await (await fetch(`${env.base}/tasks?query=other`)).json()).toEqual({ history: [], current: [], pending: [] });
    expect(parseFooocusTime('2024-07-04T17:36:09.123Z')).toEqual(new Date(2024, 6, 4, 17, 36, 9));
    expect(parseFooocusTime('2024-07-04 17:36:09')).toBeNull();
  });
});

describe('SSE and shutdown', () => {
  it('pings like sse-starlette and, on drain, tells the client to retry and ends the stream', async () => {
    const env = await start();
    const ack: any = await (await fetch(`${env.base}/v1/engine/generate/`, { method: 'POST', headers: JSON_HEADERS, body: '{"async_process":true}' })).json();
    const res = await fetch(`${env.base}/tasks/${ack.task_id}/events`);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const textP = res.text();
    await sleep(250);
    env.api.beginDrain();
    const text = await textP;
    expect(text.startsWith('retry: 3000\r\n\r\n')).toBe(true);
    expect(text).toMatch(/: ping - \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00\r\n\r\n/);
    expect(text.endsWith('retry: 3000\r\n\r\n')).toBe(true);
    expect((await fetch(`${env.base}/readyz`)).status).toBe(503);
    // The task was not touched by its stream closing.
    expect((await env.store.get(ack.task_id))?.status).toBe('queued');
    expect(pythonUtcNow(new Date('2024-07-05T01:31:10.123Z'))).toBe('2024-07-05 01:31:10.123000+00:00');
  });
});
