// Vary in the worker's plan: when Fooocus would run it (varyGoal.ts), the strengths, the input
// image read from a real file-system BlobStore as the API stores it (storeInputImage), sized by
// Fooocus' shape-ceil rule, the steps, the per-image engine jobs and the metadata; and what
// is still refused exactly as before.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeInputImage } from '../api/edge/storeInputImage.ts';
import type { BlobStore } from '../core/ports.ts';
import { parseCommonRequest } from '../core/request/commonRequest.ts';
import type { GenerationJob } from '../core/request/generationJob.ts';
import { normaliseRequest } from '../core/request/normaliseRequest.ts';
import { decodeRgb8 } from '../engine/image/decodeImage.ts';
import { buildImageMetadata } from '../engine/image/metadata/generationMetadata.ts';
import { varyInputImage } from '../engine/image/varyInputImage.ts';
import { createFsBlobStore } from '../infra/fs/createFsBlobStore.ts';
import { imageParameters } from './imageMetadata.ts';
import { planTextToImage, type PlanOptions } from './planTextToImage.ts';
import { classifyFailure } from './taskFailure.ts';
import { unsupportedFeature } from './unsupportedFeatures.ts';
import { VARY_STRONG_DENOISE, VARY_SUBTLE_DENOISE, varyGoal } from './varyGoal.ts';

let root: string;
let modelsDir: string;
let blobs: BlobStore;
/** A stored 128×96 RGB PNG, as the API leaves it in the job. */
let stored: { kind: 'stored'; key: string; sha256: string; url: string };
let png: Buffer;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-plan-vary-'));
  modelsDir = join(root, 'models');
  mkdirSync(join(modelsDir, 'checkpoints'), { recursive: true });
  writeFileSync(join(modelsDir, 'checkpoints', 'tiny.safetensors'), 'checkpoint');
  blobs = createFsBlobStore(join(root, 'blobs'));
  const rgb = Uint8Array.from({ length: 128 * 96 * 3 }, (_, i) => (i * 37) % 256);
  png = await sharp(Buffer.from(rgb), { raw: { width: 128, height: 96, channels: 3 } }).png().toBuffer();
  const s = await storeInputImage(png, { blobs, maxBytes: 10_000_000, maxPixels: 10_000_000 });
  stored = { kind: 'stored', key: s.key, sha256: s.sha256, url: `/${s.key}` };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';

/** A request as the API stores it: the uov image replaced by its stored form. */
function job(body: Record<string, unknown>, image: GenerationJob['uov']['image'] | 'stored' = 'stored'): GenerationJob {
  const j = normaliseRequest(
    parseCommonRequest({ base_model_name: 'tiny.safetensors', image_seed: 1000, style_selections: [], loras: [], uov_input_image: DATA_URL, ...body }),
    { random: () => 7n },
  );
  if (j.uov.image) j.uov.image = image === 'stored' ? { ...stored } : image;
  return j;
}

const options = (over: Partial<PlanOptions> = {}): PlanOptions => ({ modelsDir, blobs, ...over });

async function failureOf(promise: Promise<unknown>) {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err, 'expected a rejection').not.toBeNull();
  return classifyFailure(err);
}

describe('varyGoal', () => {
  it('Subtle is denoise 0.5, Strong 0.85; overwrite_vary_strength > 0 replaces either', () => {
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }))?.denoise).toBe(VARY_SUBTLE_DENOISE);
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Vary (Strong)' }))?.denoise).toBe(VARY_STRONG_DENOISE);
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)', overwrite_vary_strength: 0.3 }))?.denoise).toBe(0.3);
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Vary (Strong)', overwrite_vary_strength: 0.95 }))?.denoise).toBe(0.95);
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Vary (Strong)', overwrite_vary_strength: -1 }))?.denoise).toBe(0.85);
  });

  it('runs only where Fooocus runs it: the uov tab with an image, or the ip tab with the mixing flag', () => {
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }, null))).toBeNull();
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Disabled' }))).toBeNull();
    expect(varyGoal(job({ current_tab: 'uov', uov_method: 'Upscale (2x)' }))).toBeNull();
    // An image prompt makes the detected tab 'ip' (core's tab detection): Vary only with the mixing flag.
    const ip = { uov_method: 'Vary (Subtle)', controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }] };
    expect(job(ip).currentTab).toBe('ip');
    expect(varyGoal(job(ip))).toBeNull();
    expect(varyGoal(job({ ...ip, mixing_image_prompt_and_vary_upscale: true }))).toMatchObject({ denoise: 0.5 });
  });

  it('is not refused, mixed with an image prompt either (Upscale runs too: planUpscale.test.ts)', () => {
    expect(unsupportedFeature(job({ current_tab: 'uov', uov_method: 'Vary (Strong)' }))).toBeNull();
    // Vary mixed with an image prompt runs both, as Fooocus' mixing flag says.
    const mixed = job({ current_tab: 'ip', uov_method: 'Vary (Subtle)', mixing_image_prompt_and_vary_upscale: true, controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }] });
    expect(unsupportedFeature(mixed)).toBeNull();
    expect(unsupportedFeature(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)', inpaint_input_image: DATA_URL, mixing_image_prompt_and_inpaint: true }))).toBeNull();
  });
});

describe('planTextToImage with Vary', () => {
  it('reads the stored image, sizes the run by its shape ceil, keeps the text-to-image steps, one encode seed per task', async () => {
    const request = job({ current_tab: 'uov', uov_method: 'Vary (Subtle)', image_number: 2, aspect_ratios_selection: '1024*1024' });
    expect([request.steps, request.uovSteps]).toEqual([30, 18]);
    const plan = await planTextToImage(request, options());
    const want = varyInputImage(await decodeRgb8(png));
    expect([want.width, want.height]).toEqual([1152, 896]);
    expect(plan.images).toHaveLength(2);
    for (const [i, image] of plan.images.entries()) {
      const e = image.job;
      expect(e.seeds).toEqual([1000n + BigInt(i)]);
      expect({ width: e.width, height: e.height, steps: e.steps }).toEqual({ width: 1152, height: 896, steps: 30 });
      expect(e.init).toMatchObject({ width: 1152, height: 896, denoise: 0.5, encodeSeed: 1000n });
      expect(Buffer.from(e.init!.rgb).equals(Buffer.from(want.data))).toBe(true);
      expect(image.metadata).toMatchObject({ width: 1152, height: 896, steps: 30 });
    }
    const text = buildImageMetadata(imageParameters(plan.images[0].metadata!, {}), 'fooocus').parameters;
    expect(text).toContain('"resolution": "(1152, 896)"');
  });

  it('a strength override and a refiner switch carry over; overwrite_step sets the steps', async () => {
    const plan = await planTextToImage(job({ current_tab: 'uov', uov_method: 'Vary (Strong)', overwrite_vary_strength: 0.6, overwrite_step: 7 }), options());
    expect(plan.images[0].job).toMatchObject({ steps: 7, init: { denoise: 0.6 } });
  });

  it('a missing blob fails the task with invalid_input naming the image', async () => {
    const gone = { kind: 'stored' as const, key: `inputs/${'0'.repeat(64)}.png`, url: `/inputs/${'0'.repeat(64)}.png` };
    const failure = await failureOf(planTextToImage(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }, gone), options()));
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining(`/inputs/${'0'.repeat(64)}.png`) } });
    if (failure.kind === 'unrecoverable') expect(failure.error.message).toMatch(/^uov_input_image: .*missing from the blob store/);
  });

  it('an image the API did not store, or bytes that are not an image, fail with invalid_input', async () => {
    const unstored = await failureOf(planTextToImage(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }, { kind: 'base64', data: 'iVBORw0KGgo=', mediaType: 'image/png' }), options()));
    expect(unstored).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining('not stored by the API') } });
    await blobs.put('inputs/broken.png', new TextEncoder().encode('not a png'), 'image/png');
    const broken = await failureOf(planTextToImage(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }, { kind: 'stored', key: 'inputs/broken.png' }), options()));
    expect(broken).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining('cannot be decoded') } });
  });

  it('no image means plain text-to-image at the request size', async () => {
    const plain = await planTextToImage(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)', overwrite_width: 128, overwrite_height: 128 }, null), options());
    expect(plain.images[0].job).toMatchObject({ width: 128, height: 128 });
    expect(plain.images[0].job.init).toBeUndefined();
  });
});
