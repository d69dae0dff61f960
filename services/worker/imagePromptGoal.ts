// Whether a request runs Fooocus image prompts ('cn' goal), which slots, and their model files —
// Fooocus' own rules (F modules/async_worker.py `handler` / `apply_control_nets`, modules/config.py
// downloading_controlnet_canny / _cpds / downloading_ip_adapters; pipeline.md §3.5–3.8):
//   - the goal: the 'ip' tab, or either mixing flag (mixing_image_prompt_and_vary_upscale /
//     _inpaint) whatever the tab, exactly as Fooocus' handler appends 'cn'; Vary/Upscale and
//     inpaint then run beside it when their own tab rule selects them (varyGoal.ts, inpaintGoal.ts);
//   - every one of the 4 slots that has an image takes part (not only slot 0, which only picks
//     the tab); stop and weight are the slot's, core already resolved "use the type's default";
//   - ImagePrompt needs clip_vision/clip_vision_vit_h.safetensors, controlnet/ip-adapter-plus_sdxl_vit-h.bin
//     and controlnet/fooocus_ip_negative.safetensors; PyraCanny controlnet/control-lora-canny-rank128.safetensors;
//     CPDS controlnet/fooocus_xl_cpds_128.safetensors. Only the files of the types used are required
//     (Fooocus downloads all four up front); a missing one fails the task (model_missing) naming it;
//   - FaceSwap needs Fooocus' face crop (facexlib RetinaFace) and the IP-Adapter Face model, which
//     this engine does not have: it is refused by unsupportedFeatures.ts.
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { GenerationJob, ImagePromptSlot, ImageSource } from '../core/request/generationJob.ts';
import { TaskInputError } from './taskFailure.ts';

/** The image-prompt types this engine runs. */
export type RunnableImagePromptType = 'ImagePrompt' | 'PyraCanny' | 'CPDS';

export interface ImagePromptGoalSlot {
  /** Slot index 0..3 (for messages: `controlnet_image.<i>.cn_img`). */
  index: number;
  image: ImageSource;
  type: ImagePromptSlot['type'];
  stop: number;
  weight: number;
}

export interface ImagePromptGoal {
  slots: ImagePromptGoalSlot[];
  softness: number;
  cannyLow: number;
  cannyHigh: number;
  skipPreprocessor: boolean;
}

/** Fooocus' model files, relative to the models directory (folder/file). */
export const IMAGE_PROMPT_FILES = {
  clipVision: 'clip_vision/clip_vision_vit_h.safetensors',
  ipAdapter: 'controlnet/ip-adapter-plus_sdxl_vit-h.bin',
  ipNegative: 'controlnet/fooocus_ip_negative.safetensors',
  pyraCanny: 'controlnet/control-lora-canny-rank128.safetensors',
  cpds: 'controlnet/fooocus_xl_cpds_128.safetensors',
} as const;
const SOURCE = 'https://huggingface.co/lllyasviel/misc/resolve/main/';

/** Whether Fooocus' handler appends the 'cn' goal (the slots may still all be empty). */
export function imagePromptSelected(job: GenerationJob): boolean {
  const { mixingImagePromptAndVaryUpscale, mixingImagePromptAndInpaint } = job.controlnet;
  return job.currentTab === 'ip' || mixingImagePromptAndVaryUpscale || mixingImagePromptAndInpaint;
}

/** The image prompts this request runs, or null (not selected, or no slot has an image). */
export function imagePromptGoal(job: GenerationJob): ImagePromptGoal | null {
  if (!imagePromptSelected(job)) return null;
  const slots: ImagePromptGoalSlot[] = [];
  job.imagePrompts.forEach((s, index) => {
    if (s.image) slots.push({ index, image: s.image, type: s.type, stop: s.stop, weight: s.weight });
  });
  if (slots.length === 0) return null;
  const c = job.controlnet;
  return { slots, softness: c.softness, cannyLow: c.cannyLowThreshold, cannyHigh: c.cannyHighThreshold, skipPreprocessor: c.skippingPreprocessor };
}

export interface ImagePromptModelPaths {
  ipAdapter?: { clipVision: string; ipAdapter: string; negative: string };
  pyraCanny?: string;
  cpds?: string;
  /** Real path → the name relative to the models directory. */
  names: Map<string, string>;
}

/** The real paths of the files the goal's types need; model_missing naming the first one absent. */
export async function imagePromptModelPaths(modelsDir: string, goal: ImagePromptGoal): Promise<ImagePromptModelPaths> {
  const types = new Set(goal.slots.map((s) => s.type));
  const names = new Map<string, string>();
  const find = async (relative: string, type: string) => {
    const path = join(modelsDir, ...relative.split('/'));
    if (!existsSync(path)) {
      const [folder, file] = relative.split('/');
      throw new TaskInputError(
        'model_missing',
        `Image prompt type ${type} needs ${file} in the ${folder} folder of the models directory (put it at ${relative}; Fooocus downloads it from ${SOURCE}${file}), or remove the ${type} image prompt`,
      );
    }
    const real = await realpath(path);
    names.set(real, relative);
    return real;
  };
  const out: ImagePromptModelPaths = { names };
  if (types.has('ImagePrompt')) {
    out.ipAdapter = {
      clipVision: await find(IMAGE_PROMPT_FILES.clipVision, 'ImagePrompt'),
      ipAdapter: await find(IMAGE_PROMPT_FILES.ipAdapter, 'ImagePrompt'),
      negative: await find(IMAGE_PROMPT_FILES.ipNegative, 'ImagePrompt'),
    };
  }
  if (types.has('PyraCanny')) out.pyraCanny = await find(IMAGE_PROMPT_FILES.pyraCanny, 'PyraCanny');
  if (types.has('CPDS')) out.cpds = await find(IMAGE_PROMPT_FILES.cpds, 'CPDS');
  return out;
}
