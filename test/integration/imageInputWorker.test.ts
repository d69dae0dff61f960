// Vary and Upscale end to end through the worker on the embedded wiring (PGlite + in-process +
// files): the input image stored by content hash as the API stores it (storeInputImage), a
// FooocusAPI body normalised as the generate route does with the stored source put into the job
// (as resolveJobImages does), the real EngineHost on the tiny golden checkpoint, and the tiny
// golden upscaler in place of Fooocus's (`upscale_models/fooocus_upscaler_s409985e5.bin`).
//
// Sizes: a 128×96 image has shape ceil 128, under 1024, so Vary resizes it to shape ceil 1024:
// 1152×896, whatever the request's aspect ratio. ×4 by the upscaler is 512×384; 2x asks for a
// shape ceil of 256, under 1024, so Fooocus resizes to shape ceil 1024 too: 1152×896. Fast
// returns that image as the task's one result (whatever image_number says); 2x diffuses from it
// at the UOV steps. A stored image that is gone fails with invalid_input naming it; without the
// upscaler file the task fails with model_missing naming the file to place.
//
// Image prompts: the tiny golden IP-Adapter Plus files and the tiny canny Control-LoRA under
// Fooocus's names (clip_vision/clip_vision_vit_h.safetensors, controlnet/ip-adapter-plus_sdxl_vit-h.bin,
// controlnet/fooocus_ip_negative.safetensors, controlnet/control-lora-canny-rank128.safetensors);
// 64×64 via overwrite_width/height, 2 steps.
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
const TINY_UPSCALER = '/work/shared/golden-features/upscale_models/tiny_fooocus_upscaler.bin';
const UPSCALER_NAME = 'fooocus_upscaler_s409985e5.bin';
const CHECKPOINT_NAME = 'tiny-sdxl.safetensors';
const TINY_INPAINT_HEAD = '/work/shared/golden-features/inpaint/fooocus_inpaint_head_tiny.pth';
const TINY_INPAINT_PATCH = '/work/shared/golden-features/inpaint/inpaint_tiny.fooocus.patch';
const TINY_IP = {
  clipVision: '/work/shared/golden-features/ipadapter/clip_vision_tiny.safetensors',
  ipAdapter: '/work/shared/golden-features/ipadapter/ip-adapter-plus_tiny.bin',
  negative: '/work/shared/golden-features/ipadapter/fooocus_ip_negative_tiny.safetensors',
};
const TINY_CONTROL_LORA = '/work/shared/golden-features/controlnet/control-lora-tiny-rank4.safetensors';
const logger = pino({ level: process.env.WORKER_TEST_LOG ?? 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let root: string;
let modelsDir: string;
let engine: EngineHost;
let backends: Backends;
let worker: WorkerHandle | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-image-input-worker-'));
  modelsDir = join(root, 'models');
  mkdirSync(join(modelsDir, 'checkpoints'), { recursive: true });
  symlinkSync(TINY_CHECKPOINT, join(modelsDir, 'checkpoints', CHECKPOINT_NAME));
  mkdirSync(join(modelsDir, 'upscale_models'), { recursive: true });
  symlinkSync(TINY_UPSCALER, join(modelsDir, 'upscale_models', UPSCALER_NAME));
  // The tiny golden head and patch under Fooocus's names (inpaint engine v2.6).
  mkdirSync(join(modelsDir, 'inpaint'), { recursive: true });
  symlinkSync(TINY_INPAINT_HEAD, join(modelsDir, 'inpaint', 'fooocus_inpaint_head.pth'));
  symlinkSync(TINY_INPAINT_PATCH, join(modelsDir, 'inpaint', 'inpaint_v26.fooocus.patch'));
  // The tiny IP-Adapter Plus files and Control-LoRA under Fooocus's names.
  mkdirSync(join(modelsDir, 'clip_vision'), { recursive: true });
  mkdirSync(join(modelsDir, 'controlnet'), { recursive: true });
  symlinkSync(TINY_IP.clipVision, join(modelsDir, 'clip_vision', 'clip_vision_vit_h.safetensors'));
  symlinkSync(TINY_IP.ipAdapter, join(modelsDir, 'controlnet', 'ip-adapter-plus_sdxl_vit-h.bin'));
  symlinkSync(TINY_IP.negative, join(modelsDir, 'controlnet', 'fooocus_ip_negative.safetensors'));
  symlinkSync(TINY_CONTROL_LORA, join(modelsDir, 'controlnet', 'control-lora-canny-rank128.safetensors'));
  // Same graph cache as worker.test.ts: graphs are keyed by content hash.
  engine = new EngineHost({ cacheDir: join(tmpdir(), 'fooocus-worker-test-onnx-cache') });
  backends = await createBackends(storageEnvSchema.parse({ DATA_DIR: join(root, 'data') }), { migrate: true, logger });
  worker = await runWorker({
    store: backends.store,
    dispatcher: backends.dispatcher,
    events: backends.events,
    blobs: backends.blobs,
    engine,
    config: parseWorkerConfig({ WORKER_ID: 'image-input-worker', MODELS_DIR: modelsDir, HEARTBEAT_INTERVAL_MS: '200', SHUTDOWN_GRACE_MS: '0' }),
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

/** The API's half: normalise the body, put the stored image into the job, insert, relay. */
async function submitWithImage(body: Record<string, unknown>, image: ImageSource): Promise<string> {
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

/** The API's half for the inpaint tab: the stored image and mask upload put into the job. */
async function submitInpaint(body: Record<string, unknown>, image: ImageSource, mask: ImageSource | null): Promise<string> {
  const job = normaliseRequest(
    parseCommonRequest({
      base_model_name: CHECKPOINT_NAME,
      prompt: 'a red ball',
      loras: [],
      style_selections: [],
      image_seed: 42,
      inpaint_input_image: 'data:image/png;base64,iVBORw0KGgo=',
      ...(mask ? { inpaint_mask_image_upload: 'data:image/png;base64,iVBORw0KGgo=' } : {}),
      ...body,
    }),
  );
  job.inpaint.image = image;
  job.inpaint.mask = mask;
  const id = newTaskId();
  await backends.store.create({ id, reqParams: JSON.parse(JSON.stringify(job)) as JsonObject });
  await relayPendingOutbox(backends);
  return id;
}

/** The API's half for image prompts: every slot given an image gets the stored one. */
async function submitImagePrompt(body: Record<string, unknown>, image: ImageSource | null): Promise<string> {
  const job = normaliseRequest(
    parseCommonRequest({
      base_model_name: CHECKPOINT_NAME,
      prompt: 'a red ball',
      loras: [],
      style_selections: [],
      image_seed: 42,
      overwrite_width: 64,
      overwrite_height: 64,
      overwrite_step: 2,
      ...body,
    }),
  );
  for (const slot of job.imagePrompts) if (slot.image && image) slot.image = image;
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

async function storedImage(width: number, height: number): Promise<ImageSource> {
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256);
  const png = await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } }).png().toBuffer();
  const s = await storeInputImage(png, { blobs: backends.blobs, maxBytes: 10_000_000, maxPixels: 10_000_000 });
  return { kind: 'stored', key: s.key, sha256: s.sha256, url: `/${s.key}` };
}

/** A white rectangle [x0, x1) × [y0, y1) on black, stored as a grayscale PNG (as clients send masks). */
async function storedMask(width: number, height: number, box: [number, number, number, number]): Promise<ImageSource> {
  const gray = new Uint8Array(width * height);
  for (let y = box[2]; y < box[3]; y++) for (let x = box[0]; x < box[1]; x++) gray[y * width + x] = 255;
  const png = await sharp(Buffer.from(gray), { raw: { width, height, channels: 1 } }).png().toBuffer();
  const s = await storeInputImage(png, { blobs: backends.blobs, maxBytes: 10_000_000, maxPixels: 10_000_000 });
  return { kind: 'stored', key: s.key, sha256: s.sha256, url: `/${s.key}` };
}

async function rawRgb(key: string) {
  const blob = await backends.blobs.get(key);
  const { data, info } = await sharp(blob!.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

async function progressMessages(id: string): Promise<string[]> {
  const events = await backends.events.replay(id, 0);
  return events.flatMap((e) => (e.event.type === 'progress' ? [e.event.message] : []));
}

async function pngSize(key: string) {
  const blob = await backends.blobs.get(key);
  expect(blob).not.toBeNull();
  const meta = await sharp(blob!.bytes).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

describe('Vary through the worker (embedded wiring, real engine)', () => {
  it('Vary (Subtle) of a stored 128×96 image finishes with a 1152×896 PNG in the blob store', async () => {
    const id = await submitWithImage(
      { current_tab: 'uov', uov_method: 'Vary (Subtle)', overwrite_step: 2, aspect_ratios_selection: '1024*1024' },
      await storedImage(128, 96),
    );
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(task.results).toHaveLength(1);
    expect(task.results[0]).toMatchObject({ seed: '42', finishReason: 'SUCCESS', contentType: 'image/png' });
    expect(await pngSize(task.results[0].key)).toEqual({ format: 'png', width: 1152, height: 896 });
    expect((await progressMessages(id)).some((m) => m.startsWith('Sampling step'))).toBe(true);
  }, 300_000);

  it('a stored input image that is gone fails the task with invalid_input naming it', async () => {
    const key = `inputs/${'ab'.repeat(32)}.png`;
    const id = await submitWithImage({ current_tab: 'uov', uov_method: 'Vary (Strong)', overwrite_step: 2 }, { kind: 'stored', key, url: `/${key}` });
    const task = await settled(id, 60_000);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'invalid_input', message: expect.stringContaining(`/${key}`) });
    expect(task.results).toEqual([]);
  }, 120_000);
});

describe('Upscale through the worker (embedded wiring, real engine)', () => {
  it('Upscale (Fast 2x) of a stored 128×96 image finishes with ONE 1152×896 PNG even with image_number 2, without sampling', async () => {
    const id = await submitWithImage({ current_tab: 'uov', uov_method: 'Upscale (Fast 2x)', image_number: 2 }, await storedImage(128, 96));
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(task.results).toHaveLength(1);
    // Fooocus plans no image task for Fast: no seed (the legacy API shows -1).
    expect(task.results[0]).toMatchObject({ seed: '', finishReason: 'SUCCESS', contentType: 'image/png' });
    expect(await pngSize(task.results[0].key)).toEqual({ format: 'png', width: 1152, height: 896 });
    const messages = await progressMessages(id);
    expect(messages).toContain('Upscaling image from (96, 128) ...');
    expect(messages.some((m) => m.startsWith('Sampling step'))).toBe(false);
  }, 300_000);

  it('Upscale (2x) of a stored 128×96 image diffuses at the UOV steps and finishes with a 1152×896 PNG', async () => {
    const id = await submitWithImage(
      { current_tab: 'uov', uov_method: 'Upscale (2x)', overwrite_step: 2, aspect_ratios_selection: '1024*1024' },
      await storedImage(128, 96),
    );
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(task.results).toHaveLength(1);
    expect(task.results[0]).toMatchObject({ seed: '42', finishReason: 'SUCCESS', contentType: 'image/png' });
    expect(await pngSize(task.results[0].key)).toEqual({ format: 'png', width: 1152, height: 896 });
    const messages = await progressMessages(id);
    const upscaling = messages.indexOf('Upscaling image from (96, 128) ...');
    const sampling = messages.findIndex((m) => m.startsWith('Sampling step'));
    expect(upscaling).toBeGreaterThanOrEqual(0);
    expect(sampling).toBeGreaterThan(upscaling);
    expect(messages).toContain('Sampling step 2/2, image 1/1 ...');
  }, 300_000);

  it('without the upscaler file the task fails with model_missing naming the file to place', async () => {
    const link = join(modelsDir, 'upscale_models', UPSCALER_NAME);
    rmSync(link);
    try {
      const id = await submitWithImage({ current_tab: 'uov', uov_method: 'Upscale (1.5x)', overwrite_step: 2 }, await storedImage(64, 48));
      const task = await settled(id, 60_000);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ code: 'model_missing', message: expect.stringContaining(`upscale_models/${UPSCALER_NAME} in the models directory`) });
      expect(task.results).toEqual([]);
    } finally {
      symlinkSync(TINY_UPSCALER, link);
    }
  }, 120_000);
});

describe('Inpaint and outpaint through the worker (embedded wiring, real engine, tiny head and patch)', () => {
  it('inpaints a stored 128×96 image with a stored mask: a 128×96 PNG whose pixels far from the mask equal the input', async () => {
    const image = await storedImage(128, 96);
    // Repaint x 48..80, y 32..64; Fooocus' soft blend feathers about 32 px around it.
    const id = await submitInpaint({ current_tab: 'inpaint', overwrite_step: 2, inpaint_additional_prompt: 'glossy' }, image, await storedMask(128, 96, [48, 80, 32, 64]));
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(task.results).toHaveLength(1);
    expect(task.results[0]).toMatchObject({ seed: '42', finishReason: 'SUCCESS', contentType: 'image/png' });
    const out = await rawRgb(task.results[0].key);
    expect([out.width, out.height]).toEqual([128, 96]);
    const input = await rawRgb((image as { key: string }).key);
    let far = 0;
    let farEqual = 0;
    let insideChanged = 0;
    for (let y = 0; y < 96; y++) {
      for (let x = 0; x < 128; x++) {
        const dx = Math.max(48 - x, x - 79, 0);
        const dy = Math.max(32 - y, y - 63, 0);
        const i = (y * 128 + x) * 3;
        const same = out.data[i] === input.data[i] && out.data[i + 1] === input.data[i + 1] && out.data[i + 2] === input.data[i + 2];
        if (Math.max(dx, dy) > 34) {
          far++;
          if (same) farEqual++;
        } else if (dx === 0 && dy === 0 && !same) insideChanged++;
      }
    }
    // Beyond the 32-px feather the blend weight is 0: the input's pixels, exactly.
    expect(far).toBeGreaterThan(1000);
    expect(farEqual).toBe(far);
    // Inside the mask the pixels were generated.
    expect(insideChanged).toBeGreaterThan(32 * 32 * 0.5);
    const messages = await progressMessages(id);
    expect(messages).toContain('Image processing ...');
    expect(messages).toContain('Sampling step 2/2, image 1/1 ...');
  }, 300_000);

  it('outpaints Left: the PNG is the padded canvas (128 + int(128·0.3) = 166 wide)', async () => {
    const id = await submitInpaint({ current_tab: 'inpaint', overwrite_step: 2, outpaint_selections: ['Left'] }, await storedImage(128, 96), null);
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(await pngSize(task.results[0].key)).toEqual({ format: 'png', width: 166, height: 96 });
  }, 300_000);

  it('an empty mask with nothing outpainted runs text-to-image, as Fooocus does: the aspect ratio\'s size', async () => {
    const id = await submitInpaint(
      { current_tab: 'inpaint', overwrite_step: 2, aspect_ratios_selection: '1024*1024' },
      await storedImage(128, 96),
      await storedMask(128, 96, [0, 0, 0, 0]),
    );
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    expect(await pngSize(task.results[0].key)).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(await progressMessages(id)).toContain('Image processing ...');
  }, 300_000);

  it('without the v2.6 patch the task fails with model_missing naming inpaint/inpaint_v26.fooocus.patch', async () => {
    const link = join(modelsDir, 'inpaint', 'inpaint_v26.fooocus.patch');
    rmSync(link);
    try {
      const id = await submitInpaint({ current_tab: 'inpaint', overwrite_step: 2 }, await storedImage(64, 48), await storedMask(64, 48, [8, 24, 8, 24]));
      const task = await settled(id, 60_000);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ code: 'model_missing', message: expect.stringContaining('inpaint/inpaint_v26.fooocus.patch in the models directory') });
      expect(task.results).toEqual([]);
    } finally {
      symlinkSync(TINY_INPAINT_PATCH, link);
    }
  }, 120_000);
});

describe('Image prompts through the worker (embedded wiring, real engine, tiny IP-Adapter and Control-LoRA)', () => {
  const DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';
  let plainPixels: Uint8Array;
  beforeAll(async () => {
    const id = await submitImagePrompt({}, null);
    const task = await settled(id);
    expect(task).toMatchObject({ status: 'finished', error: null });
    plainPixels = (await rawRgb(task.results[0].key)).data;
  }, 300_000);

  for (const cn_type of ['ImagePrompt', 'PyraCanny'] as const) {
    it(`a ${cn_type} task finishes with a 64×64 PNG that differs from the same request without the image prompt`, async () => {
      const id = await submitImagePrompt({ controlnet_image: [{ cn_img: DATA_URL, cn_type, cn_stop: 1, cn_weight: 2 }] }, await storedImage(96, 80));
      const task = await settled(id);
      expect(task).toMatchObject({ status: 'finished', error: null });
      expect(task.results).toHaveLength(1);
      expect(task.results[0]).toMatchObject({ seed: '42', finishReason: 'SUCCESS', contentType: 'image/png' });
      expect(await pngSize(task.results[0].key)).toEqual({ format: 'png', width: 64, height: 64 });
      const out = await rawRgb(task.results[0].key);
      expect(Buffer.from(out.data).equals(Buffer.from(plainPixels))).toBe(false);
    }, 300_000);
  }

  it('without the IP-Adapter file the task fails with model_missing naming controlnet/ip-adapter-plus_sdxl_vit-h.bin', async () => {
    const link = join(modelsDir, 'controlnet', 'ip-adapter-plus_sdxl_vit-h.bin');
    rmSync(link);
    try {
      const id = await submitImagePrompt({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }] }, await storedImage(64, 48));
      const task = await settled(id, 60_000);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ code: 'model_missing', message: expect.stringContaining('ip-adapter-plus_sdxl_vit-h.bin in the controlnet folder') });
      expect(task.results).toEqual([]);
    } finally {
      symlinkSync(TINY_IP.ipAdapter, link);
    }
  }, 120_000);

  it('a FaceSwap image prompt fails with invalid_input naming FaceSwap', async () => {
    const id = await submitImagePrompt({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'FaceSwap' }] }, await storedImage(64, 48));
    const task = await settled(id, 60_000);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'invalid_input', message: expect.stringContaining('FaceSwap') });
  }, 120_000);
});
