// End to end: the FooocusAPI surface over the real API, the real worker and the real engine
// (tiny golden checkpoint, 128×128, 2–3 steps), once per wiring — embedded (PGlite,
// in-process, files) and cluster (Postgres, JetStream, S3). What a FooocusAPI client sees:
// status codes, bodies, SSE bytes, image bytes.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskRowSchema, recordResponseSchema } from '../../services/api/responses/fooocusRecord.ts';
import { streamEventSchema } from '../../services/api/responses/streamEvent.ts';
import { API_KEY, CHECKPOINT_NAME, DEFAULT_LORA_NAME, OTHER_API_KEY, prepareModelsDir, startApiService, type ApiService, type Wiring } from './apiService.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Small and fast: the tiny checkpoint at 128×128 with a few steps, no styles or LoRAs. */
const small = (over: Record<string, unknown> = {}) => ({
  prompt: 'a red fox in the snow',
  base_model_name: CHECKPOINT_NAME,
  style_selections: [],
  loras: [],
  overwrite_width: 128,
  overwrite_height: 128,
  overwrite_step: 2,
  image_seed: 1234,
  ...over,
});

const PYTHON_REQUESTS = await run('python3', ['-c', 'import requests']).then(
  () => true,
  () => false,
);

let root: string;
let models: { modelsDir: string; cacheDir: string };
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-e2e-'));
  models = prepareModelsDir(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each<Wiring>(['embedded', 'cluster'])('FooocusAPI over the %s wiring', (wiring) => {
  let svc: ApiService;
  let base: string;
  beforeAll(async () => {
    svc = await startApiService(wiring, models);
    base = svc.baseUrl;
  });
  afterAll(async () => {
    await svc?.stop();
  });

  const headers = (over: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-api-key': API_KEY, ...over });
  const generate = (body: unknown, over: Record<string, string> = {}) =>
    fetch(`${base}/v1/engine/generate/`, { method: 'POST', headers: headers(over), body: JSON.stringify(body) });
  const getJson = async (path: string, key = API_KEY) => {
    const r = await fetch(`${base}${path}`, { headers: { 'x-api-key': key } });
    expect(r.status, path).toBe(200);
    return r.json() as any;
  };
  async function pollUntil(taskId: string, done: (rec: any) => boolean, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rec = await getJson(`/tasks/${taskId}`);
      if (done(rec)) return rec;
      if (Date.now() > deadline) throw new Error(`task ${taskId} still ${JSON.stringify(rec.task_status)}`);
      await sleep(100);
    }
  }
  const finished = (rec: any) => ['finished', 'stop', 'failed', 'canceled'].includes(rec?.task_status);

  it('sync JSON: the finished row with result URLs that serve the image', async () => {
    const res = await generate(small());
    expect(res.status).toBe(200);
    const body = await res.json() as any;
    expect(taskRowSchema.parse(body)).toBeTruthy();
    expect(body).toMatchObject({ task_status: 'finished', progress: 100, webhook_url: '' });
    expect(body).not.toHaveProperty('preview');
    expect(body.task_id).toMatch(/^[0-9a-f]{32}$/);
    expect(body.req_params).toMatchObject({ prompt: 'a red fox in the snow', image_seed: 1234, aspect_ratios_selection: '1152×896' });
    expect(body.result).toHaveLength(1);
    expect(body.result[0]).toMatch(new RegExp(`^${base}/outputs/\\d{4}-\\d{2}-\\d{2}/[^/]+\\.png$`));

    const img = await fetch(body.result[0]); // no API key: outputs are public
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);

    const asJpeg = await fetch(body.result[0], { headers: { accept: 'image/jpeg' } });
    expect(asJpeg.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await asJpeg.arrayBuffer())).metadata()).format).toBe('jpeg');
    const asJpg = await fetch(body.result[0], { headers: { accept: 'image/jpg' } });
    expect(asJpg.headers.get('content-type')).toBe('image/jpeg');
    expect((await asJpg.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('async: the pending ack at once, then /tasks/{id} reaches finished', async () => {
    const res = await generate(small({ async_process: true }));
    expect(res.status).toBe(200);
    const ack = await res.json() as any;
    expect(recordResponseSchema.parse(ack)).toBeTruthy();
    expect(ack).toEqual({
      id: -1,
      task_id: ack.task_id,
      req_params: {},
      in_queue_mills: -1,
      start_mills: -1,
      finish_mills: -1,
      task_status: 'pending',
      progress: -1,
      preview: '',
      webhook_url: '',
      result: [],
    });
    const rec = await pollUntil(ack.task_id, finished);
    expect(rec).toMatchObject({ task_id: ack.task_id, task_status: 'finished', progress: 100 });
    expect(rec.result).toHaveLength(1);
    expect(rec.in_queue_mills).toBeLessThanOrEqual(rec.start_mills);
    expect(rec.start_mills).toBeLessThanOrEqual(rec.finish_mills);

    const lists = await getJson('/tasks?query=history&page_size=50');
    expect(lists.history.map((r: any) => r.task_id)).toContain(ack.task_id);
    expect(lists.current).toEqual([]);
    expect(lists.pending).toEqual([]);
    expect(await getJson('/tasks/0123456789abcdef0123456789abcdef')).toEqual([]);
  });

  it('stream_output: FooocusAPI SSE framing, progress with previews, then Finished with the image URLs', async () => {
    const res = await generate(small({ stream_output: 'true', overwrite_step: 3 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-task-id')).toMatch(/^[0-9a-f]{32}$/);
    const text = await res.text();
    const blocks = text.split('\r\n\r\n').filter((b) => b !== '');
    expect(blocks[0]).toBe('retry: 3000');
    const events = blocks.slice(1).filter((b) => !b.startsWith(': ping'));
    const parsed = events.map((block) => {
      const m = /^id: (\d+)\r\ndata: (\{.*\})\r\ndata: $/.exec(block);
      expect(m, JSON.stringify(block.slice(0, 120))).not.toBeNull();
      return { id: Number(m![1]), data: streamEventSchema.parse(JSON.parse(m![2])), raw: m![2] };
    });
    // Python json.dumps spacing.
    expect(parsed[0].raw).toMatch(/^\{"progress": \d+, "preview": /);
    const ids = parsed.map((p) => p.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const last = parsed.at(-1)!.data;
    expect(last).toEqual({ progress: 100, preview: null, message: 'Finished', images: [expect.stringMatching(/\/outputs\/.+\.png$/)] });
    const sampling = parsed.filter((p) => /^Sampling step/.test(p.data.message));
    expect(sampling.length).toBeGreaterThanOrEqual(1);
    expect(parsed.some((p) => p.data.preview?.startsWith('data:image/png;base64,'))).toBe(true);
    expect(parsed.map((p) => p.data.progress).every((v, i, a) => i === 0 || v >= a[i - 1])).toBe(true);

    // Resume: after the last event there is nothing more (204); from the first one, the rest.
    const taskId = res.headers.get('x-task-id')!;
    const after = await fetch(`${base}/tasks/${taskId}/events`, { headers: { 'x-api-key': API_KEY, 'last-event-id': String(ids.at(-1)) } });
    expect(after.status).toBe(204);
    const resumed = await fetch(`${base}/tasks/${taskId}/events`, { headers: { 'x-api-key': API_KEY, 'last-event-id': String(ids[0]) } });
    expect(resumed.status).toBe(200);
    const resumedIds = [...(await resumed.text()).matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(resumedIds).toEqual(ids.slice(1));
  });

  it.each([
    ['image/png', 'png', 'image/png'],
    ['image/jpeg', 'jpeg', 'image/jpeg'],
    ['image/jpg', 'jpeg', 'image/jpeg'],
    ['image/webp', 'webp', 'image/webp'],
    ['image/gif', 'png', 'image/png'],
  ])('binary mode: Accept %s answers %s bytes, one image', async (accept, format, contentType) => {
    const res = await generate(small({ image_number: 3 }), { accept });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(contentType);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual([format, 128, 128]);
    const rec = await getJson(`/tasks/${res.headers.get('x-task-id')}`);
    expect(rec.req_params.image_number).toBe(1);
    expect(rec.result).toHaveLength(1);
  });

  it('auth: protected routes answer 403 {"detail":"Forbidden"}; open routes need no key; any configured key works', async () => {
    const protectedRoutes: [string, string][] = [
      ['POST', '/v1/engine/generate/'],
      ['POST', '/v1/engine/control?action=stop'],
      ['POST', '/v1/tools/generate_mask'],
      ['POST', '/v1/tools/describe-image'],
      ['GET', '/tasks'],
      ['GET', '/tasks/abc'],
      ['GET', '/v1/engines/all-models'],
      ['GET', '/v1/engines/styles'],
    ];
    for (const [method, path] of protectedRoutes) {
      for (const key of [undefined, 'wrong', 'x'.repeat(200)]) {
        const r = await fetch(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
          body: method === 'POST' ? '{}' : undefined,
        });
        expect([path, key, r.status]).toEqual([path, key, 403]);
        expect(await r.json() as any).toEqual({ detail: 'Forbidden' });
      }
    }
    for (const path of ['/', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics', '/outputs/2000-01-01/none.png', '/inputs/none.png']) {
      const r = await fetch(`${base}${path}`, { redirect: 'manual' });
      expect([path, r.status]).toEqual([path, path === '/' ? 307 : path.endsWith('none.png') ? 404 : 200]);
    }
    expect((await fetch(`${base}/v1/engines/styles`, { headers: { 'x-api-key': OTHER_API_KEY } })).status).toBe(200);
  });

  it('422 shapes: malformed JSON (before auth), bad enum, out of range; missing action', async () => {
    const malformed = await fetch(`${base}/v1/engine/generate/`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'wrong' }, body: '{"prompt": }' });
    expect(malformed.status).toBe(422);
    expect(await malformed.json() as any).toEqual({
      detail: [{ type: 'json_invalid', loc: ['body', 11], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }],
    });
    // No content type at all is JSON too (FooocusAPI's examples post data=json.dumps(...)).
    const untyped = await fetch(`${base}/v1/engine/generate/`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: new TextEncoder().encode('{"performance_selection": "Fast"}') });
    expect(untyped.status).toBe(422);
    expect((await untyped.json() as any).detail[0]).toMatchObject({ type: 'enum', loc: ['body', 'performance_selection'], input: 'Fast' });
    const range = await generate({ image_number: 33 });
    expect(await range.json() as any).toEqual({
      detail: [{ type: 'less_than_equal', loc: ['body', 'image_number'], msg: 'Input should be less than or equal to 32', input: 33, ctx: { le: 32 } }],
    });
    const empty = await fetch(`${base}/v1/engine/generate/`, { method: 'POST', headers: headers() });
    expect(await empty.json() as any).toEqual({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] });
    const noAction = await fetch(`${base}/v1/engine/control`, { method: 'POST', headers: headers() });
    expect(noAction.status).toBe(422);
    expect((await noAction.json() as any).detail[0]).toMatchObject({ type: 'missing', loc: ['query', 'action'] });
  });

  it('unknown preset is a 422 naming the available presets; no task is created', async () => {
    const before = (await getJson('/tasks?page_size=1000')).history.length;
    const res = await generate(small({ preset: 'no-such-preset' }));
    expect(res.status).toBe(422);
    const [issue] = (await res.json() as any).detail;
    expect(issue).toMatchObject({ loc: ['body', 'preset'], input: 'no-such-preset' });
    expect(issue.msg).toContain('default');
    expect((await getJson('/tasks?page_size=1000')).history.length).toBe(before);
  });

  it('trailing slashes: 307 to the registered variant, method and body kept', async () => {
    const r1 = await fetch(`${base}/v1/engine/generate`, { method: 'POST', headers: headers(), body: '{}', redirect: 'manual' });
    expect(r1.status).toBe(307);
    expect(r1.headers.get('location')).toBe(`${base}/v1/engine/generate/`);
    const r2 = await fetch(`${base}/v1/engine/control/?action=stop`, { method: 'POST', headers: headers(), redirect: 'manual' });
    expect(r2.status).toBe(307);
    expect(r2.headers.get('location')).toBe(`${base}/v1/engine/control?action=stop`);
    // fetch follows a 307 with the same method and body.
    const followed = await fetch(`${base}/v1/engine/generate`, { method: 'POST', headers: headers(), body: JSON.stringify(small({ async_process: true })) });
    expect((await followed.json() as any).task_status).toBe('pending');
  });

  it('engines: 279 style names; all-models lists the checkpoint', async () => {
    const styles = await getJson('/v1/engines/styles');
    expect(styles).toHaveLength(279);
    expect(styles.slice(0, 2)).toEqual(['Fooocus V2', 'Random Style']);
    expect(await getJson('/v1/engines/all-models')).toEqual({ model_filenames: [CHECKPOINT_NAME], lora_filenames: [DEFAULT_LORA_NAME] });
  });

  it('tools: validated like FooocusAPI, then 501 problem+json (no segmentation/captioning models)', async () => {
    const bad = await fetch(`${base}/v1/tools/describe-image`, { method: 'POST', headers: headers(), body: JSON.stringify({ image: 'x', image_type: 'Cartoon' }) });
    expect(bad.status).toBe(422);
    const r = await fetch(`${base}/v1/tools/generate_mask`, { method: 'POST', headers: headers(), body: JSON.stringify({ image: 'aGVsbG8=' }) });
    expect(r.status).toBe(501);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await r.json() as any).toMatchObject({ type: '/docs#problem-not-implemented', status: 501, detail: expect.stringContaining('segmentation') });
  });

  it('/tasks?action=delete removes the rows of the range and their output files; without a range nothing', async () => {
    const start = new Date(Date.now() - 2_000);
    const body = await (await generate(small())).json() as any;
    const url = body.result[0];
    expect((await fetch(url)).status).toBe(200);
    const noRange = await fetch(`${base}/tasks?action=delete`, { headers: headers() });
    expect(await noRange.json() as any).toBeNull();
    expect((await getJson(`/tasks/${body.task_id}`)).task_id).toBe(body.task_id);

    const local = (d: Date) => {
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    const del = await fetch(`${base}/tasks?action=delete&start_at=${local(start)}&end_at=${local(new Date(Date.now() + 2_000))}`, { headers: headers() });
    expect(del.status).toBe(200);
    expect(await del.json() as any).toBeNull();
    expect(await getJson(`/tasks/${body.task_id}`)).toEqual([]);
    expect((await fetch(url)).status).toBe(404);
  });

  it('an SSE client that disconnects does not cancel its task', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/v1/engine/generate/`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(small({ stream_output: true, overwrite_step: 6 })),
      signal: controller.signal,
    });
    const taskId = res.headers.get('x-task-id')!;
    const reader = res.body!.getReader();
    await reader.read(); // the retry block (or more)
    controller.abort();
    await reader.cancel().catch(() => {});
    const rec = await pollUntil(taskId, finished);
    expect(rec.task_status).toBe('finished');
    expect(rec.result).toHaveLength(1);
  });

  it('control: stop ends the running task keeping finished images; stop with task_id cancels a queued one', async () => {
    const first = await (await generate(small({ async_process: true, image_number: 6, overwrite_step: 12 }))).json() as any;
    const second = await (await generate(small({ async_process: true }))).json() as any;
    await pollUntil(first.task_id, (rec) => rec.task_status === 'running' && rec.progress >= 25);
    const queued = await getJson(`/tasks/${second.task_id}`);
    expect(queued.task_status).toBeNull();

    const cancel = await fetch(`${base}/v1/engine/control?action=stop&task_id=${second.task_id}`, { method: 'POST', headers: headers() });
    expect(await cancel.json() as any).toEqual({ message: 'task stoped' });
    const stop = await fetch(`${base}/v1/engine/control?action=stop`, { method: 'POST', headers: headers() });
    expect(await stop.json() as any).toEqual({ message: 'task stoped' });

    const stopped = await pollUntil(first.task_id, finished);
    expect(stopped.task_status).toBe('stop');
    expect(stopped.result.length).toBeGreaterThanOrEqual(1);
    expect(stopped.result.length).toBeLessThan(6);
    const canceled = await pollUntil(second.task_id, finished);
    expect(canceled).toMatchObject({ task_status: 'canceled', result: [] });
    expect(await (await fetch(`${base}/v1/engine/control?action=skip`, { method: 'POST', headers: headers() })).json() as any).toEqual({ message: 'No task running' });
  });

  it('Idempotency-Key: same key and body → the same task; different body → 422 problem; scoped per API key', async () => {
    const key = `idem-${wiring}-${Date.now()}`;
    const a = await (await generate(small({ async_process: true }), { 'idempotency-key': key })).json() as any;
    const b = await (await generate(small({ async_process: true }), { 'idempotency-key': key })).json() as any;
    expect(b.task_id).toBe(a.task_id);
    const other = await generate(small({ async_process: true, prompt: 'something else' }), { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(await other.json() as any).toMatchObject({ type: '/docs#problem-idempotency-key-reused', status: 422 });
    const otherTenant = await (await generate(small({ async_process: true }), { 'idempotency-key': key, 'x-api-key': OTHER_API_KEY })).json() as any;
    expect(otherTenant.task_id).not.toBe(a.task_id);
    await pollUntil(a.task_id, finished);
    await pollUntil(otherTenant.task_id, finished);
  });

  it('webhook: FooocusAPI body (a JSON string holding the record) with Standard Webhooks headers', async () => {
    const received: { headers: Record<string, unknown>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const rec = await (await generate(small({ webhook_url: hook }))).json() as any;
      expect(rec.webhook_url).toBe(hook);
      for (let i = 0; i < 100 && received.length === 0; i++) await sleep(100);
      expect(received).toHaveLength(1);
      expect(received[0].headers['webhook-id']).toEqual(expect.any(String));
      const inner = JSON.parse(JSON.parse(received[0].body));
      expect(inner).toMatchObject({ task_id: rec.task_id, task_status: 'finished', result: rec.result, req_params: { prompt: 'a red fox in the snow', image_seed: 1234 } });
      expect(inner.req_params).not.toHaveProperty('imageSeeds');
    } finally {
      receiver.close();
    }
  });

  it('metrics count requests by route pattern', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/fooocus_http_requests_total\{route="\/v1\/engine\/generate\/",method="POST",code="200"\} \d+/);
    expect(text).toMatch(/fooocus_tasks_submitted_total\{api="fooocus",mode="sync"\} \d+/);
    expect(text).not.toMatch(/route="\/tasks\/[0-9a-f]{32}"/);
  });

  it.skipIf(!PYTHON_REQUESTS)('a FooocusAPI Python client (requests, as in the docs) works unchanged', async () => {
    const script = `
import json, sys, requests
base, key = sys.argv[1], sys.argv[2]
params = ${JSON.stringify(JSON.stringify(small()))}
headers = {"X-API-KEY": key}
# data=json.dumps(...) sends no content type, as the FooocusAPI readme does; the URL has no trailing slash (307).
r = requests.post(base + "/v1/engine/generate", data=params, headers=headers, timeout=120)
assert r.status_code == 200, r.text
url = r.json()["result"][0]
assert requests.get(url, timeout=30).content[:4] == b"\\x89PNG"
r = requests.post(base + "/v1/engine/generate", headers={**headers, "accept": "image/webp"}, json=json.loads(params), timeout=120)
assert r.content[:4] == b"RIFF", r.content[:20]
body = json.loads(params); body["stream_output"] = "true"
lines = []
with requests.post(base + "/v1/engine/generate", json=body, headers=headers, stream=True, timeout=120) as resp:
    for line in resp.iter_lines():
        if line and line.startswith(b"data: {"):
            lines.append(json.loads(line.decode("utf-8")[6:]))
assert lines[-1]["message"] == "Finished" and lines[-1]["images"], lines[-1]
body = json.loads(params); body["async_process"] = True
job = requests.post(base + "/v1/engine/generate/", json=body, headers=headers).json()
assert job["task_status"] == "pending"
print("ok", len(lines))
`;
    const { stdout } = await run('python3', ['-c', script, base, API_KEY], { timeout: 120_000 });
    expect(stdout.trim()).toMatch(/^ok \d+$/);
  });

  // The examples are wiring-agnostic curl scripts: registered once, on the embedded server.
  if (wiring === 'embedded') it('examples/ scripts run against the server', async () => {
    const env = { ...process.env, BASE_URL: base, API_KEY, MODEL: CHECKPOINT_NAME, SIZE: '128', STEPS: '2' };
    const dir = resolve(import.meta.dirname, '../../examples');
    const sync = await run('bash', [join(dir, '01-sync.sh')], { env, timeout: 120_000 });
    expect(sync.stdout).toMatch(/"task_status":"finished"/);
    const poll = await run('bash', [join(dir, '02-async-poll.sh')], { env, timeout: 120_000 });
    expect(poll.stdout).toMatch(/finished/);
    expect(poll.stdout).toMatch(/\/outputs\//);
    const sse = await run('bash', [join(dir, '03-sse.sh')], { env, timeout: 120_000 });
    expect(sse.stdout).toMatch(/"message": "Finished"/);
  });
});
