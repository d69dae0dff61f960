// Image prompts in the worker's plan: when Fooocus runs them (imagePromptGoal.ts), which slots,
// their stop/weight defaults per type, the model files by Fooocus' names (model_missing naming
// the missing one), the images read from a real file-system BlobStore, the settings handed to
// the engine, the mixing with Vary, and FaceSwap still refused.
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
import { IMAGE_PROMPT_FILES, imagePromptGoal } from './imagePromptGoal.ts';
import { planTextToImage, type PlanOptions } from './planTextToImage.ts';
import { classifyFailure } from './taskFailure.ts';
import { unsupportedFeature } from './unsupportedFeatures.ts';

let root: string;
let modelsDir: string;
let blobs: BlobStore;
let stored: { kind: 'stored'; key: string; sha256: string; url: string };

const DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-plan-ip-'));
  modelsDir = join(root, 'models');
  const put = (rel: string) => {
    mkdirSync(join(modelsDir, rel, '..'), { recursive: true });
    writeFileSync(join(modelsDir, rel), rel);
  };
  put('checkpoints/tiny.safetensors');
  for (const rel of Object.values(IMAGE_PROMPT_FILES)) put(rel);
  blobs = createFsBlobStore(join(root, 'blobs'));
  const rgb = Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 29) % 256);
  const png = await sharp(Buffer.from(rgb), { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer();
  const s = await storeInputImage(png, { blobs, maxBytes: 10_000_000, maxPixels: 10_000_000 });
  stored = { kind: 'stored', key: s.key, sha256: s.sha256, url: `/${s.key}` };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A request as the API stores it: every slot image (and the uov image) replaced by the stored one. */
function job(body: Record<string, unknown>): GenerationJob {
  const j = normaliseRequest(
    parseCommonRequest({ base_model_name: 'tiny.safetensors', image_seed: 1000, image_number: 2, style_selections: [], loras: [], ...body }),
    { random: () => 7n },
  );
  for (const slot of j.imagePrompts) if (slot.image) slot.image = { ...stored };
  if (j.uov.image) j.uov.image = { ...stored };
  return j;
}

const options = (over: Partial<PlanOptions> = {}): PlanOptions => ({ modelsDir, blobs, ...over });

async function failureOf(promise: Promise<unknown>) {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err, 'expected a rejection').not.toBeNull();
  return classifyFailure(err);
}

describe('imagePromptGoal', () => {
  it('takes every slot with an image, with the type defaults for stop and weight (ImagePrompt 0.5/0.6, PyraCanny and CPDS 0.5/1.0)', () => {
    const goal = imagePromptGoal(
      job({
        controlnet_image: [
          { cn_img: DATA_URL, cn_type: 'ImagePrompt', cn_stop: null, cn_weight: null },
          { cn_img: null, cn_type: 'PyraCanny' },
          { cn_img: DATA_URL, cn_type: 'PyraCanny', cn_stop: null, cn_weight: null },
          { cn_img: DATA_URL, cn_type: 'CPDS', cn_stop: 0.3, cn_weight: 1.7 },
        ],
        canny_low_threshold: 10,
        canny_high_threshold: 200,
        controlnet_softness: 0.4,
        skipping_cn_preprocessor: true,
      }),
    );
    expect(goal?.slots.map(({ index, type, stop, weight }) => ({ index, type, stop, weight }))).toEqual([
      { index: 0, type: 'ImagePrompt', stop: 0.5, weight: 0.6 },
      { index: 2, type: 'PyraCanny', stop: 0.5, weight: 1.0 },
      { index: 3, type: 'CPDS', stop: 0.3, weight: 1.7 },
    ]);
    expect(goal).toMatchObject({ cannyLow: 10, cannyHigh: 200, softness: 0.4, skipPreprocessor: true });
  });

  it("runs in the 'ip' tab or with a mixing flag, as Fooocus' handler appends 'cn'", () => {
    // Slot 0 empty: the tab is not 'ip'; the image in slot 1 is used only with a mixing flag.
    const slot1 = { controlnet_image: [{ cn_img: null }, { cn_img: DATA_URL, cn_type: 'PyraCanny' }] };
    expect(job(slot1).currentTab).not.toBe('ip');
    expect(imagePromptGoal(job(slot1))).toBeNull();
    expect(imagePromptGoal(job({ ...slot1, mixing_image_prompt_and_vary_upscale: true }))?.slots).toHaveLength(1);
    expect(imagePromptGoal(job({ ...slot1, current_tab: 'ip' }))?.slots).toHaveLength(1);
    expect(imagePromptGoal(job({ current_tab: 'ip' }))).toBeNull();
  });
});

describe('planTextToImage with image prompts', () => {
  it('hands every image job the same slots (images read as HWC3), the model files by Fooocus names and the settings', async () => {
    const plan = await planTextToImage(
      job({
        prompt: 'a fox',
        controlnet_image: [
          { cn_img: DATA_URL, cn_type: 'ImagePrompt' },
          { cn_img: DATA_URL, cn_type: 'PyraCanny', cn_stop: 0.4, cn_weight: 0.8 },
          { cn_img: DATA_URL, cn_type: 'CPDS' },
        ],
        canny_low_threshold: 50,
      }),
      options(),
    );
    expect(plan.images).toHaveLength(2);
    const tasks = plan.images[0].job.imagePromptTasks!;
    expect(plan.images[1].job.imagePromptTasks).toBe(tasks);
    expect(tasks.slots.map((s) => [s.type, s.stop, s.weight, s.image.width, s.image.height, s.image.channels])).toEqual([
      ['ImagePrompt', 0.6, 0.6, 40, 30, 3],
      ['PyraCanny', 0.4, 0.8, 40, 30, 3],
      ['CPDS', 0.6, 0.6, 40, 30, 3],
    ]);
    expect(tasks.ipAdapter).toEqual({
      clipVision: join(modelsDir, 'clip_vision', 'clip_vision_vit_h.safetensors'),
      ipAdapter: join(modelsDir, 'controlnet', 'ip-adapter-plus_sdxl_vit-h.bin'),
      negative: join(modelsDir, 'controlnet', 'fooocus_ip_negative.safetensors'),
    });
    expect(tasks.pyraCanny).toBe(join(modelsDir, 'controlnet', 'control-lora-canny-rank128.safetensors'));
    expect(tasks.cpds).toBe(join(modelsDir, 'controlnet', 'fooocus_xl_cpds_128.safetensors'));
    expect(tasks).toMatchObject({ softness: 0.25, cannyLow: 50, cannyHigh: 128, skipPreprocessor: false });
    expect(plan.pathNames.get(tasks.cpds!)).toBe('controlnet/fooocus_xl_cpds_128.safetensors');
  });

  it('requires only the files of the types used', async () => {
    const plan = await planTextToImage(job({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'PyraCanny' }] }), options());
    const tasks = plan.images[0].job.imagePromptTasks!;
    expect(tasks.ipAdapter).toBeUndefined();
    expect(tasks.cpds).toBeUndefined();
    expect(tasks.pyraCanny).toBeDefined();
  });

  it('a missing model file fails the task with model_missing naming the file and its folder', async () => {
    for (const [type, rel] of [
      ['ImagePrompt', IMAGE_PROMPT_FILES.ipAdapter],
      ['ImagePrompt', IMAGE_PROMPT_FILES.clipVision],
      ['ImagePrompt', IMAGE_PROMPT_FILES.ipNegative],
      ['PyraCanny', IMAGE_PROMPT_FILES.pyraCanny],
      ['CPDS', IMAGE_PROMPT_FILES.cpds],
    ] as const) {
      const path = join(modelsDir, rel);
      rmSync(path);
      try {
        const failure = await failureOf(planTextToImage(job({ controlnet_image: [{ cn_img: DATA_URL, cn_type: type }] }), options()));
        const [folder, file] = rel.split('/');
        expect(failure, rel).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing', message: expect.stringContaining(`${file} in the ${folder} folder`) } });
      } finally {
        writeFileSync(path, rel);
      }
    }
  });

  it('mixes with Vary when the mixing flag says so: both the init image and the slots', async () => {
    const body = { uov_input_image: DATA_URL, uov_method: 'Vary (Subtle)', controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }] };
    const mixed = await planTextToImage(job({ ...body, mixing_image_prompt_and_vary_upscale: true }), options());
    expect(mixed.images[0].job.init).toBeDefined();
    expect(mixed.images[0].job.imagePromptTasks?.slots).toHaveLength(1);
    // Without the flag the 'ip' tab runs the image prompt alone, as Fooocus does.
    const alone = await planTextToImage(job(body), options());
    expect(alone.images[0].job.init).toBeUndefined();
    expect(alone.images[0].job.imagePromptTasks?.slots).toHaveLength(1);
  });

  it('FaceSwap stays refused with a message naming it; enhance as before', async () => {
    const faceSwap = job({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'ImagePrompt' }, { cn_img: DATA_URL, cn_type: 'FaceSwap' }] });
    expect(unsupportedFeature(faceSwap)).toMatch(/^Image prompt type FaceSwap \(controlnet_image\.1\) is not supported yet/);
    const failure = await failureOf(planTextToImage(faceSwap, options()));
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining('FaceSwap') } });
    expect(unsupportedFeature(job({ controlnet_image: [{ cn_img: DATA_URL, cn_type: 'CPDS' }] }))).toBeNull();
    expect(unsupportedFeature(job({ enhance_input_image: DATA_URL }))).toMatch(/^Enhance is not supported yet/);
  });
});
