// Inpaint/outpaint in the worker's plan: Fooocus' rules (inpaintGoal.ts) — when the goal is
// taken, the outpaint overrides of strength and respective field, the additional prompt, the
// synthetic refiner's switch, the head/patch file per inpaint engine (model_missing naming the
// file) — and the plan built from a stored image and mask upload in a real file-system
// BlobStore, then filled from a prepared crop (applyPreparedInpaint).
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
import { createFsBlobStore } from '../infra/fs/createFsBlobStore.ts';
import type { PreparedInpaint } from '../engine/job.ts';
import { inpaintGoal, inpaintModelPaths, inpaintPrompt, syntheticSwitchStep } from './inpaintGoal.ts';
import { applyPreparedInpaint, planTextToImage, type PlanOptions } from './planTextToImage.ts';
import { classifyFailure } from './taskFailure.ts';
import { unsupportedFeature } from './unsupportedFeatures.ts';

let root: string;
let modelsDir: string;
let blobs: BlobStore;
let image: { kind: 'stored'; key: string; url: string };
let mask: { kind: 'stored'; key: string; url: string };
let wrongSize: { kind: 'stored'; key: string; url: string };
const DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';

async function store(png: Buffer) {
  const s = await storeInputImage(png, { blobs, maxBytes: 10_000_000, maxPixels: 10_000_000 });
  return { kind: 'stored' as const, key: s.key, url: `/${s.key}` };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-plan-inpaint-'));
  modelsDir = join(root, 'models');
  for (const d of ['checkpoints', 'upscale_models', 'inpaint']) mkdirSync(join(modelsDir, d), { recursive: true });
  writeFileSync(join(modelsDir, 'checkpoints', 'tiny.safetensors'), 'checkpoint');
  writeFileSync(join(modelsDir, 'upscale_models', 'fooocus_upscaler_s409985e5.bin'), 'upscaler');
  for (const f of ['fooocus_inpaint_head.pth', 'inpaint_v26.fooocus.patch', 'inpaint.fooocus.patch']) writeFileSync(join(modelsDir, 'inpaint', f), f);
  blobs = createFsBlobStore(join(root, 'blobs'));
  const rgb = Uint8Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 37) % 256);
  image = await store(await sharp(Buffer.from(rgb), { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer());
  // Gray 100 on the left half (below the upload threshold, but Fooocus keeps it in the drawn mask), white on the right.
  const gray = Uint8Array.from({ length: 64 * 48 }, (_, p) => (p % 64 < 32 ? 100 : 255));
  mask = await store(await sharp(Buffer.from(gray), { raw: { width: 64, height: 48, channels: 1 } }).png().toBuffer());
  wrongSize = await store(await sharp(Buffer.from(new Uint8Array(32 * 24).fill(255)), { raw: { width: 32, height: 24, channels: 1 } }).png().toBuffer());
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function job(body: Record<string, unknown>, withMask = true): GenerationJob {
  const j = normaliseRequest(
    parseCommonRequest({
      base_model_name: 'tiny.safetensors', image_seed: 1000, style_selections: [], loras: [], prompt: 'a cat',
      inpaint_input_image: DATA_URL, ...(withMask ? { inpaint_mask_image_upload: DATA_URL } : {}), ...body,
    }),
    { random: () => 7n },
  );
  if (j.inpaint.image) j.inpaint.image = { ...image };
  if (j.inpaint.mask) j.inpaint.mask = { ...mask };
  return j;
}
const options = (): PlanOptions => ({ modelsDir, blobs });

describe('inpaintGoal (Fooocus apply_image_input / apply_outpaint)', () => {
  it('runs on the inpaint tab with an image, or ip with mixing_image_prompt_and_inpaint; not on another tab', () => {
    expect(job({}).currentTab).toBe('inpaint');
    expect(inpaintGoal(job({}))).toMatchObject({ strength: 1, respectiveField: 0.618, engine: 'v2.6', maskUpload: { key: mask.key } });
    expect(inpaintGoal(job({ current_tab: 'uov', uov_method: 'Disabled', uov_input_image: DATA_URL }))).toBeNull();
    const ip = { controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }] };
    expect(job(ip).currentTab).toBe('ip');
    expect(inpaintGoal(job(ip))).toBeNull();
    expect(inpaintGoal(job({ ...ip, mixing_image_prompt_and_inpaint: true }))).not.toBeNull();
  });

  it('strength and respective field as sent; an outpaint forces both to 1.0 and keeps FooocusAPI distances', () => {
    expect(inpaintGoal(job({ inpaint_strength: 0.4, inpaint_respective_field: 0.3, inpaint_erode_or_dilate: -3 }))).toMatchObject({
      strength: 0.4, respectiveField: 0.3, erodeOrDilate: -3, outpaint: { sides: [] },
    });
    expect(inpaintGoal(job({ inpaint_strength: 0.4, inpaint_respective_field: 0.3, outpaint_selections: ['Left', 'Top'], outpaint_distance: [10, 0, 0, 5] }))).toMatchObject({
      strength: 1, respectiveField: 1, outpaint: { sides: ['left', 'top'], distances: { left: 10, top: 0, right: 0, bottom: 5 } },
    });
  });

  it('the upload is merged only when one was sent (FooocusAPI forces advanced masking on iff so)', () => {
    expect(inpaintGoal(job({}, false))).toMatchObject({ maskUpload: null });
  });

  it('additional prompt: prepended as its own line, or the prompt itself when the prompt is empty', () => {
    expect(inpaintPrompt('a cat', '')).toBe('a cat');
    expect(inpaintPrompt('a cat', 'a hat')).toBe('a hat\na cat');
    expect(inpaintPrompt('', 'a hat')).toBe('a hat');
  });

  it('synthetic refiner switch: round(performance steps × 0.8), overwrite_switch when > 0', () => {
    expect(syntheticSwitchStep('Speed', -1)).toBe(24);
    expect(syntheticSwitchStep('Quality', -1)).toBe(48);
    expect(syntheticSwitchStep('Speed', 3)).toBe(3);
  });

  it('head and patch per engine version; None needs neither; a missing file is model_missing naming it', async () => {
    expect(await inpaintModelPaths(modelsDir, 'None')).toBeNull();
    expect(await inpaintModelPaths(modelsDir, 'v2.6')).toMatchObject({ headName: 'inpaint/fooocus_inpaint_head.pth', patchName: 'inpaint/inpaint_v26.fooocus.patch' });
    expect(await inpaintModelPaths(modelsDir, 'v1')).toMatchObject({ patchName: 'inpaint/inpaint.fooocus.patch' });
    const failure = classifyFailure(await inpaintModelPaths(modelsDir, 'v2.5').catch((e: unknown) => e), new Map());
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing', message: expect.stringContaining('inpaint/inpaint_v25.fooocus.patch in the models directory') } });
  });

  it('is no longer refused, nor mixed with a PyraCanny image prompt; mixed with FaceSwap the FaceSwap is', () => {
    expect(unsupportedFeature(job({}))).toBeNull();
    expect(unsupportedFeature(job({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'PyraCanny' }], mixing_image_prompt_and_inpaint: true }))).toBeNull();
    expect(unsupportedFeature(job({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'FaceSwap' }], mixing_image_prompt_and_inpaint: true }))).toMatch(
      /^Image prompt type FaceSwap \(controlnet_image\.0\) is not supported yet/,
    );
  });
});

describe('planTextToImage with inpaint', () => {
  it('reads image and upload, prepends the additional prompt, plans the synthetic switch; the prepared crop fills every job', async () => {
    const plan = await planTextToImage(job({ inpaint_additional_prompt: 'a hat', image_number: 2, inpaint_erode_or_dilate: 2 }), options());
    expect(plan.inpaint).not.toBeNull();
    const p = plan.inpaint!;
    expect(p.headPath).toMatch(/fooocus_inpaint_head\.pth$/);
    expect(p.patchPath).toMatch(/inpaint_v26\.fooocus\.patch$/);
    expect(p.syntheticSwitchStep).toBe(24);
    expect(p.request).toMatchObject({ image: { width: 64, height: 48, channels: 3 }, upload: { width: 64, height: 48 }, erodeOrDilate: 2, invert: false, denoise: 1, respectiveField: 0.618 });
    // The drawn mask is the upload's first channel as sent (FooocusAPI's {"image", "mask": upload}).
    expect(p.request.mask).toHaveLength(64 * 48);
    expect([p.request.mask![0], p.request.mask![31], p.request.mask![32], p.request.mask![63]]).toEqual([100, 100, 255, 255]);
    expect(p.request.upscalerPath).toMatch(/fooocus_upscaler_s409985e5\.bin$/);
    expect(plan.images[0].job.positive[0]).toBe('a hat');
    expect(plan.images[0].job.positive).toContain('a cat');
    // Logged as Fooocus logs it: the prompt with its new first line, refiner_switch 0.8.
    expect(plan.images[0].metadata).toMatchObject({ prompt: 'a hat\na cat', refinerSwitch: 0.8 });
    const prepared: PreparedInpaint = {
      area: [0, 48, 0, 64],
      image: { data: new Uint8Array(1152 * 896 * 3), width: 1152, height: 896, channels: 3 },
      mask: new Uint8Array(1152 * 896),
      fill: new Uint8Array(1152 * 896 * 3),
      original: { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48, channels: 3 },
      softMask: new Uint8Array(64 * 48),
    };
    applyPreparedInpaint(plan, prepared);
    for (const image of plan.images) {
      expect(image.job).toMatchObject({ width: 1152, height: 896, steps: 30 });
      expect(image.job.inpaint).toMatchObject({ denoise: 1, syntheticSwitchStep: 24, syntheticSwapMethod: 'joint', encodeSeed: 1000n, headPath: p.headPath, patchPath: p.patchPath });
      expect(image.job.inpaint!.prepared).toBe(prepared);
      // Fooocus logs the generation (crop) size as the resolution.
      expect(image.metadata).toMatchObject({ width: 1152, height: 896 });
    }
  });

  it('the synthetic refiner takes the request\'s swap method (separate), overwrite_switch its switch', async () => {
    const plan = await planTextToImage(job({ refiner_swap_method: 'separate', overwrite_switch: 5 }), options());
    expect(plan.inpaint).toMatchObject({ syntheticSwapMethod: 'separate', syntheticSwitchStep: 5 });
  });

  it('a mask upload of another size than the image fails with invalid_input naming both sizes', async () => {
    const request = job({});
    request.inpaint.mask = { ...wrongSize };
    const failure = classifyFailure(await planTextToImage(request, options()).catch((e: unknown) => e), new Map());
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining('is 32×24 but inpaint_input_image is 64×48') } });
  });

  it('without an upload there is no drawn mask (zeros) and nothing to merge', async () => {
    const plan = await planTextToImage(job({}, false), options());
    expect(plan.inpaint!.request.mask).toBeUndefined();
    expect(plan.inpaint!.request.upload).toBeUndefined();
  });

  it('inpaintSkipped (empty mask, nothing outpainted) plans plain text-to-image with the prompt as sent', async () => {
    const plan = await planTextToImage(job({ inpaint_additional_prompt: 'a hat' }), { ...options(), inpaintSkipped: true });
    expect(plan.inpaint).toBeNull();
    expect(plan.images[0].job.positive[0]).toBe('a cat');
    expect(plan.images[0].job.inpaint).toBeUndefined();
  });

  it('inpaint engine None needs no head or patch, and keeps the refiner switch as sent', async () => {
    const request = job({ inpaint_engine: 'None' });
    const plan = await planTextToImage(request, options());
    expect(plan.inpaint).toMatchObject({ headPath: null, patchPath: null });
    expect(request.refinerSwitch).not.toBe(0.8);
    expect(plan.images[0].metadata).toMatchObject({ refinerSwitch: request.refinerSwitch });
    const other = await planTextToImage(job({ inpaint_engine: 'None', refiner_switch: 0.6 }), options());
    expect(other.images[0].metadata).toMatchObject({ refinerSwitch: 0.6 });
  });

  it('debugging_inpaint_preprocessor is refused with invalid_input (Fooocus would return its mask visualisation)', async () => {
    const failure = classifyFailure(await planTextToImage(job({ debugging_inpaint_preprocessor: true }), options()).catch((e: unknown) => e), new Map());
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringMatching(/^debugging_inpaint_preprocessor/) } });
  });
});
