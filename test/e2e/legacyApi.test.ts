// End to end: the Fooocus-API (old mrhan1993/Fooocus-API) compatibility routes over the real
// API, worker and engine (tiny golden checkpoint, 128×128, 2 steps), once per wiring as
// test/e2e/api.test.ts does. What an old client sees: status codes, bodies, image bytes, the
// old webhook body.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncJobResponseSchema, generatedImageResultSchema } from '../../services/api/legacy/legacyResponses.ts';
import { API_KEY, CHECKPOINT_NAME, prepareModelsDir, startApiService, type ApiService, type Wiring } from './apiService.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DASHED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An old client's body: sizes and steps through advanced_params, as Fooocus-API had them. */
const small = (over: Record<string, unknown> = {}, adv: Record<string, unknown> = {}) => ({
  prompt: 'a red fox in the snow',
  base_model_name: CHECKPOINT_NAME,
  style_selections: [],
  loras: [],
  image_seed: 1234,
  advanced_params: { overwrite_width: 128, overwrite_height: 128, overwrite_step: 2, ...adv },
  ...over,
});

let root: string;
let models: { modelsDir: string; cacheDir: string };
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-e2e-legacy-'));
  models = prepareModelsDir(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const WIRINGS: Wiring[] = process.env.LEGACY_E2E_WIRINGS ? (process.env.LEGACY_E2E_WIRINGS.split(',') as Wiring[]) : ['embedded', 'cluster'];

describe.each<Wiring>(WIRINGS)('Fooocus-API (old) routes over the %s wiring', (wiring) => {
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
  const post = (path: string, body: unknown, over: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: headers(over), body: JSON.stringify(body) });
  const get = (path: string) => fetch(`${base}${path}`, { headers: { 'x-api-key': API_KEY } });
  async function queryUntil(jobId: string, done: (job: any) => boolean, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await get(`/v1/generation/query-job?job_id=${jobId}`);
      expect(r.status).toBe(200);
      const job = (await r.json()) as any;
      if (done(job)) return job;
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.job_stage}`);
      await sleep(100);
    }
  }
  const ended = (job: any) => job.job_stage === 'SUCCESS' || job.job_stage === 'ERROR';

  it('sync text-to-image: a GeneratedImageResult list whose /files URL serves the PNG', async () => {
    const res = await post('/v1/generation/text-to-image', small({ require_base64: true }));
    expect(res.status).toBe(200);
    const list = (await res.json()) as any[];
    expect(list).toHaveLength(1);
    expect(generatedImageResultSchema.parse(list[0])).toBeTruthy();
    expect(list[0]).toMatchObject({ seed: '1234', finish_reason: 'SUCCESS' });
    expect(list[0].url).toMatch(new RegExp(`^${base}/files/\\d{4}-\\d{2}-\\d{2}/.+\\.png$`));
    expect(list[0].base64).toMatch(/^data:image\/png;base64,iVBOR/);
    const img = await fetch(list[0].url); // /files is public, as in the old project
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);
    const same = await fetch(list[0].url.replace('/files/', '/outputs/'));
    expect(Buffer.from(await same.arrayBuffer()).equals(Buffer.from(list[0].base64.split(',')[1], 'base64'))).toBe(true);
  });

  it('async + query-job: WAITING at submit, then SUCCESS with results; plain-hex job_id works too', async () => {
    const res = await post('/v1/generation/text-to-image', small({ async_process: true }));
    expect(res.status).toBe(200);
    const ack = (await res.json()) as any;
    expect(asyncJobResponseSchema.parse(ack)).toBeTruthy();
    expect(ack).toEqual({
      job_id: expect.stringMatching(DASHED),
      job_type: 'Text to Image',
      job_stage: 'WAITING',
      job_progress: 0,
      job_status: null,
      job_step_preview: null,
      job_result: null,
    });
    const job = await queryUntil(ack.job_id, ended);
    expect(job).toMatchObject({ job_id: ack.job_id, job_stage: 'SUCCESS', job_progress: 100, job_status: 'Finished' });
    expect(job.job_result).toHaveLength(1);
    expect(job.job_result[0]).toMatchObject({ base64: null, seed: '1234', finish_reason: 'SUCCESS' });
    const hex = await (await get(`/v1/generation/query-job?job_id=${ack.job_id.replaceAll('-', '')}&require_step_preview=true`)).json();
    expect(hex).toEqual(job);
  });

  it('binary: ?accept=image/png returns the PNG; async_process wins over accept', async () => {
    const res = await post('/v2/generation/text-to-image-with-ip?accept=image/png', small({ image_number: 3, image_prompts: [] }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    const taskId = res.headers.get('x-task-id')!;
    const rec = (await (await get(`/tasks/${taskId}`)).json()) as any;
    expect(rec.result).toHaveLength(1); // image_number forced to 1

    const asyncRes = await post('/v1/generation/text-to-image', small({ async_process: true, image_number: 2 }), { accept: 'image/png' });
    expect(asyncRes.headers.get('content-type')).toMatch(/^application\/json/);
    const ack = (await asyncRes.json()) as any;
    expect(ack.job_stage).toBe('WAITING');
    const job = await queryUntil(ack.job_id, ended);
    expect(job.job_result).toHaveLength(1);
  });

  it('job-queue and job-history (filter by job_id, paging, delete)', async () => {
    const ack = (await (await post('/v1/generation/text-to-image', small({ async_process: true }))).json()) as any;
    await queryUntil(ack.job_id, ended);
    const queue = (await (await get('/v1/generation/job-queue')).json()) as any;
    expect(queue).toEqual({ running_size: 0, finished_size: expect.any(Number), last_job_id: ack.job_id });
    expect(queue.finished_size).toBeGreaterThanOrEqual(1);

    const all = (await (await get('/v1/generation/job-history?page_size=100')).json()) as any;
    expect(all.queue).toEqual([]);
    expect(all.history.map((h: any) => h.job_id)).toContain(ack.job_id);
    const one = (await (await get(`/v1/generation/job-history?job_id=${ack.job_id}`)).json()) as any;
    expect(one.queue).toEqual([]);
    expect(one.history).toEqual([
      { job_id: ack.job_id, in_queue_mills: expect.any(Number), start_mills: expect.any(Number), finish_mills: expect.any(Number), is_finished: true },
    ]);
    expect(one.history[0].in_queue_mills).toBeLessThanOrEqual(one.history[0].start_mills);
    expect(one.history[0].start_mills).toBeLessThanOrEqual(one.history[0].finish_mills);
    const firstPage = (await (await get('/v1/generation/job-history?page=0&page_size=1')).json()) as any;
    expect(firstPage.history).toHaveLength(1);

    const job = await queryUntil(ack.job_id, ended);
    const del = await get(`/v1/generation/job-history?job_id=${ack.job_id}&delete=true`);
    expect(await del.json()).toEqual({ message: 'Deleted' });
    expect((await fetch(job.job_result[0].url)).status).toBe(404);
    expect(await (await get(`/v1/generation/job-history?job_id=${ack.job_id}&delete=true`)).json()).toEqual({ message: 'Not found' });
    const gone = await get(`/v1/generation/query-job?job_id=${ack.job_id}`);
    expect(gone.status).toBe(404);
  });

  it('stop: {"msg":"success"}; the running job ends early', async () => {
    const ack = (await (await post('/v1/generation/text-to-image', small({ async_process: true, image_number: 6 }, { overwrite_step: 12 }))).json()) as any;
    const running = await queryUntil(ack.job_id, (j) => j.job_stage === 'RUNNING' && j.job_progress >= 20);
    expect(running.job_result).toBeNull();
    const stop = await fetch(`${base}/v1/generation/stop`, { method: 'POST', headers: { 'x-api-key': API_KEY } });
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ msg: 'success' });
    const job = await queryUntil(ack.job_id, ended);
    expect(job.job_stage).toBe('SUCCESS'); // HEAD v0.5: images finished before the stop are kept
    expect(job.job_result.length).toBeGreaterThanOrEqual(1);
    expect(job.job_result.length).toBeLessThan(6);
  });

  it('ping, the 404 job body, auth and a 422 in the old shape', async () => {
    const ping = await get('/ping');
    expect(ping.status).toBe(200);
    expect(await ping.json()).toBe('pong');
    expect((await fetch(`${base}/ping`)).status).toBe(403);

    const missing = await get('/v1/generation/query-job?job_id=01234567-89ab-cdef-0123-456789abcdef');
    expect(missing.status).toBe(404);
    const jobNotFoundBody = await missing.json();
    expect(jobNotFoundBody).toEqual({
      job_id: '',
      job_type: 'Not Found',
      job_stage: 'ERROR',
      job_progress: 0,
      job_status: 'Job not found',
      job_step_preview: null,
      job_result: null,
    });

    const bad = await post('/v1/generation/text-to-image', { prompt: 'x', image_number: 99, advanced_params: { sampler_name: 'nope' } });
    expect(bad.status).toBe(422);
    const body = (await bad.json()) as any;
    expect(body.body).toEqual({ prompt: 'x', image_number: 99, advanced_params: { sampler_name: 'nope' } });
    expect(body.detail.map((d: any) => d.loc)).toEqual(expect.arrayContaining([['body', 'image_number'], ['body', 'advanced_params', 'sampler_name']]));
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as any;
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/generation/text-to-image', '/v1/generation/query-job', '/ping', '/files/{path}']));
    const ajv = new Ajv2020({ strict: false });
    for (const [name, schema] of Object.entries(spec.components.schemas)) ajv.addSchema(schema as object, `#/components/schemas/${name}`);
    expect(ajv.validate('#/components/schemas/AsyncJobResponse', jobNotFoundBody), JSON.stringify(ajv.errors)).toBe(true);

    const noImage = await post('/v2/generation/image-upscale-vary', small());
    expect(noImage.status).toBe(422);
    expect(((await noImage.json()) as any).detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'input_image'] });
  });

  it('webhook: the old body {job_id, job_result:[{url, seed}]}', async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const res = await post('/v1/generation/text-to-image', small({ webhook_url: hook }));
      const list = (await res.json()) as any[];
      const taskId = res.headers.get('x-task-id')!;
      for (let i = 0; i < 100 && received.length === 0; i++) await sleep(100);
      expect(received).toHaveLength(1);
      expect(JSON.parse(received[0])).toEqual({
        job_id: `${taskId.slice(0, 8)}-${taskId.slice(8, 12)}-${taskId.slice(12, 16)}-${taskId.slice(16, 20)}-${taskId.slice(20)}`,
        job_result: [{ url: list[0].url, seed: '1234' }],
      });
    } finally {
      receiver.close();
    }
  });

  const redSquare = () => sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
  const smallForm = async (fields: Record<string, string>) => {
    const form = new FormData();
    form.append('input_image', new Blob([await redSquare()], { type: 'image/png' }), 'in.png');
    form.append('prompt', 'a red square');
    form.append('base_model_name', CHECKPOINT_NAME);
    form.append('style_selections', '');
    form.append('loras', '[]');
    form.append('advanced_params', JSON.stringify({ overwrite_width: 128, overwrite_height: 128, overwrite_step: 2 }));
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    return form;
  };

  it('multipart v1 image-upscale-vary (Vary): the file is stored as an input, form defaults apply, the job succeeds', async () => {
    const form = await smallForm({ uov_method: 'Vary (Subtle)', async_process: 'true' });
    const res = await fetch(`${base}/v1/generation/image-upscale-vary`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: form });
    expect(res.status).toBe(200);
    const ack = (await res.json()) as any;
    expect(ack).toMatchObject({ job_type: 'Image Upscale or Variation', job_stage: 'WAITING' });
    const rec = (await (await get(`/tasks/${ack.job_id.replaceAll('-', '')}`)).json()) as any;
    expect(rec.req_params).toMatchObject({ uov_method: 'Vary (Subtle)', guidance_scale: 7, save_metadata_to_images: false, current_tab: 'uov' });
    expect(rec.req_params.uov_input_image).toMatch(new RegExp(`^${base}/inputs/[0-9a-f]{64}\\.png$`));
    // The first Vary of a fresh graph cache builds the VAE encoder (~35 s on a small CPU).
    const job = await queryUntil(ack.job_id, ended, 200_000);
    expect(job).toMatchObject({ job_stage: 'SUCCESS', job_status: 'Finished' });
    const img = await fetch(job.job_result[0].url);
    expect(Buffer.from(await img.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
  }, 240_000);

  it('multipart v1 image-inpaint-outpaint: mapped to the inpaint tab; without the inpaint model files the job ends ERROR naming the file to place', async () => {
    const form = await smallForm({ outpaint_selections: 'Left,Top', outpaint_distance_left: '16' });
    const res = await fetch(`${base}/v1/generation/image-inpaint-outpaint`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: form });
    expect(res.status).toBe(200);
    const list = (await res.json()) as any[];
    const rec = (await (await get(`/tasks/${res.headers.get('x-task-id')}`)).json()) as any;
    expect(rec.req_params).toMatchObject({ current_tab: 'inpaint', outpaint_selections: ['Left', 'Top'], outpaint_distance: [16, 0, 0, 0] });
    // This suite's models folder has the checkpoint only: inpaint needs Fooocus's inpaint files.
    expect(rec.task_status).toBe('failed');
    expect(list).toEqual([{ base64: null, url: null, seed: '', finish_reason: 'ERROR' }]);
    const job = (await (await get(`/v1/generation/query-job?job_id=${rec.task_id}`)).json()) as any;
    expect(job).toMatchObject({ job_type: 'Image Inpaint or Outpaint', job_stage: 'ERROR', job_result: null });
    expect(job.job_status).toMatch(/(inpaint|upscale_models)\/\S+ in the models directory/);

    const missing = new FormData();
    missing.append('uov_method', 'Vary (Subtle)');
    const bad = await fetch(`${base}/v1/generation/image-upscale-vary`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: missing });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as any).detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'input_image'] });
  });
});
