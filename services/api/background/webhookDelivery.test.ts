// The webhook loop against the real TaskStore (Postgres server and PGlite) and a real
// receiver on loopback (reliability.md fault case 12). The receiver verifies every request
// the way a Standard Webhooks consumer would, with its own verifier written from the spec.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookDeliveriesTable } from '../../infra/postgres/schema.ts';
import type { Selectable } from 'kysely';
import { createUrlFetcher } from '../edge/urlFetch/index.ts';
import { newTaskId, sleep, waitFor, wirings } from './testWirings.ts';
import { startWebhookDelivery, type WebhookDeliveryOptions } from './webhookDelivery.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** A receiver-side verifier per the Standard Webhooks spec (not the sender's code). */
function verifyStandardWebhook(secret: string, headers: http.IncomingHttpHeaders, rawBody: string, nowSeconds: number): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sig !== 'string') return false;
  if (!/^\d+$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > 300) return false; // ±5 min tolerance
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${ts}.${rawBody}`).digest('base64'));
  return sig.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    const got = Buffer.from(value ?? '');
    return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  verified: boolean;
  at: number;
}

let receiver: http.Server;
let base: string;
let received: Received[] = [];
let connections = 0;
const behaviour = new Map<string, (n: number) => { status: number; headers?: Record<string, string> } | 'hang'>();

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body, verified: verifyStandardWebhook(SECRET, req.headers, body, Math.floor(Date.now() / 1000)), at: Date.now() });
      const n = received.filter((r) => r.path === path).length;
      const b = behaviour.get(path)?.(n) ?? { status: 200 };
      if (b === 'hang') return;
      await sleep(5);
      res.writeHead(b.status, b.headers).end('ok');
    });
  });
  receiver.on('connection', () => connections++);
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

describe.each(wirings())('webhook delivery on $name', (wiring) => {
  const loops: { stop(): Promise<void> }[] = [];
  let registry: Registry;

  beforeAll(() => wiring.setup());
  afterAll(() => wiring.teardown());
  beforeEach(async () => {
    await wiring.reset();
    received = [];
    connections = 0;
    behaviour.clear();
    registry = new Registry();
  });
  afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.stop()));
    receiver.closeAllConnections();
  });

  const start = (options: Partial<WebhookDeliveryOptions> = {}) => {
    const loop = startWebhookDelivery({
      store: wiring.store(),
      fetcher: createUrlFetcher({ allowPrivate: true }),
      outputUrl: (key) => `http://api.test/${key}`,
      secret: SECRET,
      maxAttempts: 5,
      retryScheduleMs: [50],
      jitter: 0,
      intervalMs: 60_000, // rounds are driven by runOnce unless a test shrinks it
      registry,
      ...options,
    });
    loops.push(loop);
    return loop;
  };

  /** A finished task with a webhook URL: complete() enqueues its terminal delivery. */
  async function finishedTask(path: string): Promise<string> {
    const store = wiring.store();
    const id = newTaskId();
    await store.create({ id, reqParams: { prompt: 'a cat', image_seed: '42' }, webhookUrl: `${base}${path}` });
    const claim = await store.claim(id, 'w1');
    if (!claim.claimed) throw new Error('claim failed');
    await store.complete(id, claim.task.attempt, [{ key: `outputs/2024-07-05/${id}-0.png`, seed: '42', finishReason: 'SUCCESS' }]);
    return id;
  }

  const rows = async (): Promise<Selectable<WebhookDeliveriesTable>[]> =>
    await wiring.connection().db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();
  const counter = async (outcome: string) =>
    (await registry.getSingleMetric('fooocus_webhook_deliveries_total')!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

  it('POSTs FooocusAPI’s double-encoded record with valid Standard Webhooks headers', async () => {
    const id = await finishedTask('/ok');
    const report = await start().runOnce();
    expect(report).toMatchObject({ taken: 1, delivered: 1 });
    expect(received).toHaveLength(1);
    const [r] = received;
    expect(r.verified).toBe(true);
    expect(r.headers['webhook-id']).toBe(`evt_${id}`);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    const inner = JSON.parse(r.body);
    expect(typeof inner).toBe('string'); // FooocusAPI: a JSON string holding the record's JSON
    expect(inner).toMatch(/^\{"id": \d+, "task_id": /);
    expect(JSON.parse(inner)).toMatchObject({
      task_id: id,
      req_params: { prompt: 'a cat', image_seed: '42' },
      task_status: 'finished',
      progress: 100,
      webhook_url: `${base}/ok`,
      result: [`http://api.test/outputs/2024-07-05/${id}-0.png`],
    });
    expect((await rows())[0]).toMatchObject({ status: 'delivered', attempt: 1, last_error: null });
    expect(await counter('delivered')).toBe(1);
  });

  it('sends a stored payload (a string verbatim, other JSON serialised), unsigned when no secret is configured', async () => {
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    const rendered = JSON.stringify({ type: 'task.completed', timestamp: '2024-07-05T00:00:00Z', data: { id } });
    await wiring.store().enqueueWebhook({ eventId: 'evt_object', eventType: 'task.completed', taskId: id, url: `${base}/ok`, payload: { type: 'task.completed', data: { id } } });
    await wiring.store().enqueueWebhook({ eventId: 'evt_custom', eventType: 'task.completed', taskId: id, url: `${base}/ok`, payload: rendered });
    await start({ secret: undefined }).runOnce();
    expect(received).toHaveLength(2);
    const byId = (eventId: string) => received.find((r) => r.headers['webhook-id'] === eventId)!;
    expect(JSON.parse(byId('evt_object').body)).toEqual({ type: 'task.completed', data: { id } }); // jsonb: key order not kept
    expect(byId('evt_custom').body).toBe(rendered); // a string payload is the exact body
    expect(received.map((r) => r.headers['webhook-signature'])).toEqual([undefined, undefined]);
  });

  it('retries after a 500 with the same webhook-id and a fresh timestamp and signature, then succeeds', async () => {
    behaviour.set('/flaky', (n) => ({ status: n === 1 ? 500 : 204 }));
    const id = await finishedTask('/flaky');
    let offset = 0;
    const loop = start({ clock: { now: () => Date.now() + (offset += 7_000) } });
    expect(await loop.runOnce()).toMatchObject({ retrying: 1 });
    expect((await rows())[0]).toMatchObject({ status: 'pending', attempt: 1, last_error: 'HTTP 500: ok' });
    expect(await loop.runOnce()).toMatchObject({ taken: 0 }); // not due before the 50 ms delay
    await sleep(80);
    expect(await loop.runOnce()).toMatchObject({ delivered: 1 });

    expect(received.map((r) => r.headers['webhook-id'])).toEqual([`evt_${id}`, `evt_${id}`]);
    expect(received.every((r) => r.verified)).toBe(true);
    expect(Number(received[1].headers['webhook-timestamp'])).toBeGreaterThan(Number(received[0].headers['webhook-timestamp']));
    expect(received[1].headers['webhook-signature']).not.toBe(received[0].headers['webhook-signature']);
    expect(received[1].body).toBe(received[0].body);
    expect((await rows())[0]).toMatchObject({ status: 'delivered', attempt: 2 });
    expect([await counter('retrying'), await counter('delivered')]).toEqual([1, 1]);
  });

  it('gives up after maxAttempts (the running loop drives the retries)', async () => {
    behaviour.set('/down', () => ({ status: 503 }));
    await finishedTask('/down');
    start({ maxAttempts: 3, intervalMs: 20 });
    await waitFor(async () => (await rows())[0].status === 'failed');
    await sleep(150);
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect((await rows())[0]).toMatchObject({ status: 'failed', attempt: 3, last_error: 'HTTP 503: ok' });
    expect([await counter('retrying'), await counter('gave_up')]).toEqual([2, 1]);
  });

  it('gives up at once on 410 Gone', async () => {
    behaviour.set('/gone', () => ({ status: 410 }));
    await finishedTask('/gone');
    expect(await start().runOnce()).toMatchObject({ gaveUp: 1 });
    expect((await rows())[0]).toMatchObject({ status: 'failed', attempt: 1, last_error: 'HTTP 410: ok (endpoint gone)' });
  });

  it('does not follow a 3xx: it is a failed attempt, retried', async () => {
    behaviour.set('/moved', () => ({ status: 302, headers: { location: '/ok' } }));
    await finishedTask('/moved');
    expect(await start().runOnce()).toMatchObject({ retrying: 1 });
    expect(received.map((r) => r.path)).toEqual(['/moved']);
  });

  it('retries a receiver that times out', async () => {
    behaviour.set('/slow', () => 'hang');
    await finishedTask('/slow');
    expect(await start({ timeoutMs: 200 }).runOnce()).toMatchObject({ retrying: 1 });
    expect((await rows())[0].last_error).toMatch(/no complete response within 200 ms/);
  });

  it('gives up without connecting when the URL resolves to a refused address', async () => {
    await finishedTask('/ok');
    expect(await start({ fetcher: createUrlFetcher() }).runOnce()).toMatchObject({ gaveUp: 1 });
    expect(connections).toBe(0);
    expect((await rows())[0].last_error).toMatch(/address 127\.0\.0\.1 is not allowed \(loopback\)/);
  });

  it('two concurrent loops (two replicas) never send the same attempt twice', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => finishedTask('/ok')));
    const a = start({ batch: 7 });
    const b = startWebhookDelivery({
      store: await wiring.otherStore(),
      fetcher: createUrlFetcher({ allowPrivate: true }),
      outputUrl: (key) => key,
      secret: SECRET,
      batch: 7,
      intervalMs: 60_000,
      registry,
    });
    loops.push(b);
    const reports = [];
    while ((await rows()).some((r) => r.status === 'pending')) {
      reports.push(...(await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()])));
    }
    expect(reports.reduce((n, r) => n + r.delivered, 0)).toBe(30);
    expect(reports.reduce((n, r) => n + r.leaseLost + r.retrying + r.gaveUp, 0)).toBe(0);
    expect(received).toHaveLength(30);
    expect(new Set(received.map((r) => r.headers['webhook-id']))).toEqual(new Set(ids.map((id) => `evt_${id}`)));
    expect((await rows()).every((r) => r.status === 'delivered' && r.attempt === 1)).toBe(true);
  });
});
