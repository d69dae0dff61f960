// Upscale in the worker's plan: Fooocus apply_upscale's rules (upscaleGoal.ts) — the factor,
// the shape-ceil size rule with its 1024 floor and 2800 direct-return limit, the strengths,
// the UOV steps — and the plan built from a stored input image in a real file-system
// BlobStore: the upscaler file looked up (safetensors first, model_missing naming it), Fast
// planned without any checkpoint, the per-image jobs filled from the upscaled image.
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
import { buildImageMetadata } from '../engine/image/metadata/generationMetadata.ts';
import { createFsBlobStore } from '../infra/fs/createFsBlobStore.ts';
import { imageParameters } from './imageMetadata.ts';
import { applyUpscaledImage, planTextToImage, type PlanOptions } from './planTextToImage.ts';
import { classifyFailure } from './taskFailure.ts';
import { unsupportedFeature } from './unsupportedFeatures.ts';
import { isDirectReturn, UPSCALE_DENOISE, upscaleFactor, upscaleGoal, upscaleSize } from './upscaleGoal.ts';

let root: string;
let modelsDir: string;
let blobs: BlobStore;
const upscalerBin = () => join(modelsDir, 'upscale_models', 'fooocus_upscaler_s409985e5.bin');

async function storePng(width: number, height: number) {
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256);
  const png = await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } }).png().toBuffer();
  const s = await storeInputImage(png, { blobs, maxBytes: 50_000_000, maxPixels: 50_000_000 });
  return { kind: 'stored' as const, key: s.key, sha256: s.sha256, url: `/${s.key}` };
}
let small: Awaited<ReturnType<typeof storePng>>;
let large: Awaited<ReturnType<typeof storePng>>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-plan-upscale-'));
  modelsDir = join(root, 'models');
  mkdirSync(join(modelsDir, 'checkpoints'), { recursive: true });
  mkdirSync(join(modelsDir, 'upscale_models'), { recursive: true });
  writeFileSync(join(modelsDir, 'checkpoints', 'tiny.safetensors'), 'checkpoint');
  writeFileSync(upscalerBin(), 'upscaler');
  blobs = createFsBlobStore(join(root, 'blobs'));
  small = await storePng(128, 96);
  large = await storePng(1500, 1404);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';

function job(body: Record<string, unknown>, image: GenerationJob['uov']['image'] | 'small' | 'large' = 'small'): GenerationJob {
  const j = normaliseRequest(
    parseCommonRequest({ base_model_name: 'tiny.safetensors', image_seed: 1000, style_selections: [], loras: [], uov_input_image: DATA_URL, current_tab: 'uov', ...body }),
    { random: () => 7n },
  );
  if (j.uov.image) j.uov.image = image === 'small' ? { ...small } : image === 'large' ? { ...large } : image;
  return j;
}

const options = (over: Partial<PlanOptions> = {}): PlanOptions => ({ modelsDir, blobs, ...over });

async function failureOf(promise: Promise<unknown>) {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err, 'expected a rejection').not.toBeNull();
  return classifyFailure(err);
}

describe('upscaleGoal: Fooocus apply_upscale rules', () => {
  it('factor: 1.5 and 2 by the method name (Fast 2x too), upscale_multiple for Custom, else 1', () => {
    expect(upscaleFactor('Upscale (1.5x)', 3)).toBe(1.5);
    expect(upscaleFactor('Upscale (2x)', 3)).toBe(2);
    expect(upscaleFactor('Upscale (Fast 2x)', 1)).toBe(2);
    expect(upscaleFactor('Upscale (Custom)', 2.5)).toBe(2.5);
    expect(upscaleFactor('Upscale (Custom)', 1)).toBe(1);
    expect(upscaleGoal(job({ uov_method: 'Upscale (Custom)', upscale_multiple: 3.25 }))?.factor).toBe(3.25);
  });

  it('a target shape ceil under 1024 becomes a shape-ceil-1024 resize; otherwise int(W·f) × int(H·f)', () => {
    // 96×128 ×2: get_shape_ceil(192, 256) = 256.
    expect(upscaleSize(96, 128, 2)).toEqual({ shapeCeil: 1024, resize: { shapeCeil: 1024 }, superLarge: false });
    // 600×800 ×1.5 → 900×1200, ceil(sqrt(1.08e6)/64)·64 = 1088.
    expect(upscaleSize(600, 800, 1.5)).toEqual({ shapeCeil: 1088, resize: { width: 1200, height: 900 }, superLarge: false });
    // Python int() truncates 1051.5 and 1501.5.
    expect(upscaleSize(701, 1001, 1.5).resize).toEqual({ width: 1501, height: 1051 });
  });

  it('returns directly above shape ceil 2800, and always for Fast', () => {
    // Shape ceils are multiples of 64: 2752 is the largest that diffuses, 2816 the smallest that does not.
    expect(upscaleSize(1376, 1376, 2)).toMatchObject({ shapeCeil: 2752, superLarge: false });
    expect(upscaleSize(1377, 1376, 2)).toMatchObject({ shapeCeil: 2816, superLarge: true });
    expect(upscaleSize(1404, 1500, 2)).toMatchObject({ shapeCeil: 2944, superLarge: true, resize: { width: 3000, height: 2808 } });
    const slow = upscaleGoal(job({ uov_method: 'Upscale (2x)' }))!;
    const fast = upscaleGoal(job({ uov_method: 'Upscale (Fast 2x)' }))!;
    expect([slow.fast, fast.fast]).toEqual([false, true]);
    expect(isDirectReturn(slow, upscaleSize(96, 128, 2))).toBe(false);
    expect(isDirectReturn(slow, upscaleSize(1404, 1500, 2))).toBe(true);
    expect(isDirectReturn(fast, upscaleSize(96, 128, 2))).toBe(true);
  });

  it('denoise 0.382 unless overwrite_upscale_strength > 0; the UOV steps and their switch step', () => {
    const speed = upscaleGoal(job({ uov_method: 'Upscale (2x)' }))!;
    expect(speed).toMatchObject({ denoise: UPSCALE_DENOISE, steps: 18, refinerSwitchStep: 9 });
    expect(upscaleGoal(job({ uov_method: 'Upscale (1.5x)', overwrite_upscale_strength: 0.6 }))?.denoise).toBe(0.6);
    expect(upscaleGoal(job({ uov_method: 'Upscale (1.5x)', overwrite_upscale_strength: -1 }))?.denoise).toBe(UPSCALE_DENOISE);
    expect(upscaleGoal(job({ uov_method: 'Upscale (2x)', performance_selection: 'Quality' }))).toMatchObject({ steps: 36, refinerSwitchStep: 18 });
    expect(upscaleGoal(job({ uov_method: 'Upscale (2x)', overwrite_step: 3 }))).toMatchObject({ steps: 3 });
  });

  it('runs only where Fooocus runs it, and is no longer refused, mixed with an image prompt too', () => {
    expect(upscaleGoal(job({ uov_method: 'Upscale (2x)' }, null))).toBeNull();
    expect(upscaleGoal(job({ uov_method: 'Vary (Subtle)' }))).toBeNull();
    expect(upscaleGoal(job({ uov_method: 'Disabled' }))).toBeNull();
    for (const uov_method of ['Upscale (1.5x)', 'Upscale (2x)', 'Upscale (Fast 2x)', 'Upscale (Custom)']) {
      expect(unsupportedFeature(job({ uov_method })), uov_method).toBeNull();
    }
    const mixed = job({ current_tab: 'ip', uov_method: 'Upscale (2x)', mixing_image_prompt_and_vary_upscale: true, controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }] });
    expect(upscaleGoal(mixed)).not.toBeNull();
    expect(unsupportedFeature(mixed)).toBeNull();
  });
});

describe('planTextToImage with Upscale', () => {
  it('Upscale (2x) of a small image: the upscaler first, then per-image jobs at the UOV steps filled from its result', async () => {
    const plan = await planTextToImage(job({ uov_method: 'Upscale (2x)', image_number: 2 }), options());
    expect(plan.upscale).toMatchObject({ modelPath: upscalerBin(), directReturn: false, seed: '1000', size: { resize: { shapeCeil: 1024 } } });
    expect(plan.upscale?.blackOutNsfw).toBeUndefined();
    expect([plan.upscale!.image.width, plan.upscale!.image.height, plan.upscale!.image.channels]).toEqual([128, 96, 3]);
    expect(plan.pathNames.get(upscalerBin())).toBe('upscale_models/fooocus_upscaler_s409985e5.bin');
    expect(plan.images).toHaveLength(2);
    expect(plan.images[0].job).toMatchObject({ steps: 18 });
    expect(plan.images[0].metadata).toMatchObject({ steps: 18 });

    // What the upscaler gave back: sides not multiples of 8 are cropped, centred, as the VAE does.
    const upscaled = { data: Uint8Array.from({ length: 1157 * 867 * 3 }, (_, i) => i % 251), width: 1157, height: 867 };
    applyUpscaledImage(plan, upscaled);
    for (const image of plan.images) {
      expect({ width: image.job.width, height: image.job.height }).toEqual({ width: 1152, height: 864 });
      expect(image.job.init).toMatchObject({ width: 1152, height: 864, denoise: UPSCALE_DENOISE, encodeSeed: 1000n });
      expect(image.job.init!.rgb.length).toBe(1152 * 864 * 3);
      // Row 1 of the crop starts at source row 1 + 1 (top 1), column 2 (left 2).
      expect(image.job.init!.rgb[1152 * 3]).toBe(((1 + 1) * 1157 + 2) * 3 % 251);
      expect(image.metadata).toMatchObject({ width: 1152, height: 864, steps: 18 });
    }
    const text = buildImageMetadata(imageParameters(plan.images[0].metadata!, {}), 'fooocus').parameters;
    expect(text).toContain('"resolution": "(1152, 864)"');
  });

  it('a refiner switch from the UOV steps is clamped to overwrite_step', async () => {
    writeFileSync(join(modelsDir, 'checkpoints', 'refiner.safetensors'), 'refiner');
    const plan = await planTextToImage(job({ uov_method: 'Upscale (1.5x)', overwrite_step: 4, refiner_model_name: 'refiner.safetensors' }), options());
    expect(plan.images[0].job).toMatchObject({ steps: 4, refiner: { switchStep: 4 } });
    expect(plan.notes.join('\n')).toContain('refiner switch step 9 is past the last step (4)');
  });

  it('Fast needs no checkpoint (Fooocus skips prompt processing) and plans no image; its result has no seed', async () => {
    const plan = await planTextToImage(job({ uov_method: 'Upscale (Fast 2x)', image_number: 3, base_model_name: 'absent.safetensors' }), options());
    expect(plan).toMatchObject({ checkpoint: null, images: [], upscale: { directReturn: true, seed: '', size: { resize: { shapeCeil: 1024 } } } });
  });

  it('a target above shape ceil 2800 is returned directly with the first seed; black_out_nsfw goes with it', async () => {
    mkdirSync(join(modelsDir, 'safety_checker'), { recursive: true });
    writeFileSync(join(modelsDir, 'safety_checker', 'model.onnx'), 'onnx');
    try {
      const plan = await planTextToImage(job({ uov_method: 'Upscale (2x)', black_out_nsfw: true }, 'large'), options());
      expect(plan.upscale).toMatchObject({
        directReturn: true,
        seed: '1000',
        size: { shapeCeil: 2944, resize: { width: 3000, height: 2808 } },
        blackOutNsfw: { modelPath: join(modelsDir, 'safety_checker', 'model.onnx') },
      });
    } finally {
      rmSync(join(modelsDir, 'safety_checker'), { recursive: true });
    }
  });

  it('prefers fooocus_upscaler_s409985e5.safetensors over the .bin', async () => {
    const st = join(modelsDir, 'upscale_models', 'fooocus_upscaler_s409985e5.safetensors');
    writeFileSync(st, 'safetensors');
    try {
      const plan = await planTextToImage(job({ uov_method: 'Upscale (Fast 2x)' }), options());
      expect(plan.upscale?.modelPath).toBe(st);
    } finally {
      rmSync(st);
    }
  });

  it('a missing upscaler fails with model_missing naming the file and the folder, before the image is read', async () => {
    rmSync(upscalerBin());
    try {
      for (const uov_method of ['Upscale (Fast 2x)', 'Upscale (2x)']) {
        const failure = await failureOf(planTextToImage(job({ uov_method }, { kind: 'stored', key: 'inputs/none.png' }), options()));
        expect(failure, uov_method).toMatchObject({
          kind: 'unrecoverable',
          error: { code: 'model_missing', message: expect.stringContaining('upscale_models/fooocus_upscaler_s409985e5.bin in the models directory') },
        });
      }
    } finally {
      writeFileSync(upscalerBin(), 'upscaler');
    }
  });

  it('a stored image that is gone fails with invalid_input naming it', async () => {
    const key = `inputs/${'c'.repeat(64)}.png`;
    const failure = await failureOf(planTextToImage(job({ uov_method: 'Upscale (2x)' }, { kind: 'stored', key, url: `/${key}` }), options()));
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining(`/${key}`) } });
  });
});
