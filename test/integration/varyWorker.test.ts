// Vary end to end through the worker on the embedded wiring (PGlite + in-process + files):
// the input image stored by content hash as the API stores it (storeInputImage), a FooocusAPI
// body normalised as the generate route does, the stored source in the job, the real
// EngineHost on the tiny golden checkpoint. The finished PNG has the size Fooocus gives a
// Vary of that image (shape ceil 1024: 128×96 → 1152×896), not the request's aspect ratio;
// a stored image that is gone fails the task with invalid_input naming it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeInputImage } from '../../services/api/edge/storeInputImage.ts';
import { storageEnvSchema } from '../../services/config/storageConfig.ts';
import { parseCommonRequest } from '../../services/core/request/commonRequest.ts';
import type { ImageSource } from '../../services/core/request/generationJob.ts';
import { normaliseRequest } from '../../services/core/request/normaliseRequest.ts';
import type { JsonObject, Task } from '../../services/core/task/taskRecord.ts';
import { EngineHost } from '../../services/engine/engineHost.ts';
import { createBackends, type Backends } from '../../services/wiring/createBackends.ts';
import { parseWorkerConfig } from '../../services/worker/config.ts';
import { runWorker, type WorkerHandle } from '../../services/worker/runWorker.ts';
import { newTaskId, relayPendingOutbox } from './support/submitTask.ts';

const TINY_CHECKPOINT = '/work/shared/golden/tiny-sdxl.safetensors';
const CHECKPOINT_NAME = 'tiny-sdxl.safetensors';
const logger = pino({ level: process.env.WORKER_TEST_LOG ?? 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let root: string;
let modelsDir: string;
let engine: EngineHost;
let backends: Backends;
let worker: WorkerHandle | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-vary-worker-'));
  modelsDir = join(root, 'models');
  mkdirSync(join(modelsDir, 'checkpoints'), { recursive: true });
  symlinkSync(TINY_CHECKPOINT, join(modelsDir, 'checkpoints', CHECKPOINT_NAME));
  // Same graph cache as worker.test.ts: graphs are keyed by content hash.
  engine = new EngineHost({ cacheDir: join(tmpdir(), 'fooocus-worker-test-onnx-cache') });
  backends = await createBackends(storageEnvSchema.parse({ DATA_DIR: join(root, 'data') }), { migrate: true, logger });
  worker = await runWorker({
    store: backends.store,
    dispatcher: backends.dispatcher,
    events: backends.events,
    blobs: backends.blobs,
    engine,
    config: parseWorkerConfig({ WORKER_ID: 'vary-worker', MODELS_DIR: modelsDir, HEARTBEAT_INTERVAL_MS: '200', SHUTDOWN_GRACE_MS: '0' }),
    logger,
    progressIntervalMs: 100,
    retryDelayMs: () => 200,
  });
}, 60_000);
afterAll(async () => {
  await worker?.stop({ graceMs: 0 });
  await backends?.close();
  await engine?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The API's half: normalise the body, put the stored image into the job (as resolveJobImages does), insert, relay. */
async function submitVary(body: Record<string, unknown>, image: ImageSource): Promise<string> {
  const job = normaliseRequest(
    parseCommonRequest({
      base_model_name: CHECKPOINT_NAME,
      prompt: 'a cozy cabin in a pine forest',
      loras: [],
      style_selections: [],
      image_seed: 42,
      uov_input_image: 'data:image/png;base64,iVBORw0KGgo=',
      ...body,
    }),
  );
  job.uov.image = image;
  const id = newTaskId();
  await backends.store.create({ id, reqParams: JSON.parse(JSON.stringify(job)) as JsonObject });
  await relayPendingOutbox(backends);
  return id;
}

async function settled(id: string, timeoutMs = 240_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await backends.store.get(id);
    if (task && ['finished', 'failed', 'stopped'].includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} did not settle`);
    await sleep(50);
  }
}

describe('Vary through the worker (embedded wiring, real engine)', () => {
  it('Vary (Subtle) of a stored 128×96 image finishes with a 1152×896 PNG in the blob store', async () => {
    const rgb = Uint8Array.from({ length: 128 * 96 * 3 }, (_, i) => (i * 37) % 256);
    const png = await sharp(Buffer.from(rgb), { raw: { width: 128, height: 96, channels: 3 } }).png().toBuffer();
    const s = await storeInputImage(png, { blobs: backends.blobs, maxBytes: 10_000_000, maxPixels: 10_000_000 });
    const id = await submitVary(
      { current_tab: 'uov', uov_method: 'Vary (Subtle)', overwrite_step: 2, aspect_ratios_selection: '1024*1024' },
      { kind: 'stored', key: s.key, sha256: s.sha256, url: `/${s.key}` },
    );
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(task.results).toHaveLength(1);
    expect(task.results[0]).toMatchObject({ seed: '42', finishReason: 'SUCCESS', contentType: 'image/png' });
    const blob = await backends.blobs.get(task.results[0].key);
    expect(blob).not.toBeNull();
    const meta = await sharp(blob!.bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'png', width: 1152, height: 896 });
    const events = await backends.events.replay(id, 0);
    const sampling = events.filter((e) => e.event.type === 'progress' && e.event.message.startsWith('Sampling step'));
    expect(sampling.length).toBeGreaterThan(0);
  }, 300_000);

  it('a stored input image that is gone fails the task with invalid_input naming it', async () => {
    const key = `inputs/${'ab'.repeat(32)}.png`;
    const id = await submitVary({ current_tab: 'uov', uov_method: 'Vary (Strong)', overwrite_step: 2 }, { kind: 'stored', key, url: `/${key}` });
    const task = await settled(id, 60_000);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'invalid_input', message: expect.stringContaining(`/${key}`) });
    expect(task.results).toEqual([]);
  }, 120_000);
});
