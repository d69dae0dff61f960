// Whether a request runs Fooocus "Upscale", to what size, and whether diffusion follows —
// Fooocus' own rules (F modules/async_worker.py `apply_image_input` / `apply_upscale`,
// FooocusAPI's worker for "Upscale (Custom)"; pipeline.md §3.2):
//   - the goal: the 'uov' tab (or 'ip' with mixing_image_prompt_and_vary_upscale), an input
//     image, a method containing 'upscale' (varyGoal.ts `uovSelected`);
//   - the ESRGAN upscaler (`upscale_models/fooocus_upscaler_s409985e5.bin`) always runs first;
//   - factor f: 1.5 for '1.5x', 2 for '2x' (so also 'Fast 2x'), FooocusAPI's `upscale_value`
//     (our `upscale_multiple`) for "Upscale (Custom)" when it is > 1, else 1;
//   - `shape_ceil = get_shape_ceil(H·f, W·f)` of the ORIGINAL input size (floats, as Python);
//     below 1024 the upscaled image goes through `set_image_shape_ceil(…, 1024)` and the shape
//     ceil becomes 1024; otherwise `resample_image(…, W·f, H·f)`, which hands PIL
//     `(int(W·f), int(H·f))` — truncation;
//   - 'fast' in the method, or `shape_ceil > 2800`: the resized image is returned directly,
//     no diffusion, ONE result whatever image_number says (Fooocus returns before its image
//     loop); Fast skips prompt processing entirely, so no checkpoint or LoRA is needed;
//   - otherwise image-to-image as Vary does it, with denoise 0.382 (`overwrite_upscale_strength`
//     > 0 replaces it), the performance's UOV steps (`uovSteps`: overwrite_step when > 0) and
//     the refiner switch Fooocus computes from them (`uovRefinerSwitchStep`); the generation
//     size is the upscaled image cropped to multiples of 8 (the VAE's crop).
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { GenerationJob, ImageSource } from '../core/request/generationJob.ts';
import { getShapeCeil } from '../engine/image/varyInputImage.ts';
import type { UpscaleResize } from '../engine/job.ts';
import { TaskInputError } from './taskFailure.ts';
import { uovSelected } from './varyGoal.ts';

/** Fooocus `apply_upscale` denoise. */
export const UPSCALE_DENOISE = 0.382;
/** Below this target shape ceil the image is resized to it instead. */
export const UPSCALE_MIN_SHAPE_CEIL = 1024;
/** Above this target shape ceil the upscaled image is returned without diffusion. */
export const UPSCALE_DIRECT_RETURN_SHAPE_CEIL = 2800;
/** Where Fooocus keeps its upscaler, relative to the models directory. */
export const UPSCALER_FOLDER = 'upscale_models';
export const UPSCALER_FILE = 'fooocus_upscaler_s409985e5.bin';
/** F modules/config.py downloading_upscale_model. */
export const UPSCALER_SOURCE = 'https://huggingface.co/lllyasviel/misc/resolve/main/fooocus_upscaler_s409985e5.bin';

export interface UpscaleGoal {
  /** The request's method as sent ('Upscale (2x)', 'Upscale (Fast 2x)', 'Upscale (Custom)', …). */
  method: string;
  image: ImageSource;
  /** The request field the image came from (for messages). */
  field: 'uov_input_image';
  /** The factor f applied to the original size. */
  factor: number;
  /** 'fast' in the method: always a direct return, no prompt processing. */
  fast: boolean;
  /** Denoising strength of the diffusion that follows (unused on a direct return). */
  denoise: number;
  /** Sampling steps and refiner switch step of that diffusion. */
  steps: number;
  refinerSwitchStep: number;
}

/** How the upscaled image is resized, from the original size and the factor. */
export interface UpscaleSize {
  /** The target's shape ceil; 1024 when it was raised to it. */
  shapeCeil: number;
  /** What the engine applies to the ESRGAN output. */
  resize: UpscaleResize;
  /** shape ceil > 2800: returned without diffusion. */
  superLarge: boolean;
}

/** The Upscale this request runs, or null (no image, another tab, Disabled, a Vary). */
export function upscaleGoal(job: GenerationJob): UpscaleGoal | null {
  if (!uovSelected(job)) return null;
  const method = job.uov.method.toLowerCase();
  if (!method.includes('upscale')) return null;
  const denoise = job.uov.upscaleStrength !== null && job.uov.upscaleStrength > 0 ? job.uov.upscaleStrength : UPSCALE_DENOISE;
  return {
    method: job.uov.method,
    image: job.uov.image!,
    field: 'uov_input_image',
    factor: upscaleFactor(job.uov.method, job.uov.upscaleMultiple),
    fast: method.includes('fast'),
    denoise,
    steps: job.uovSteps,
    refinerSwitchStep: job.uovRefinerSwitchStep,
  };
}

/** f: 1.5 / 2 from the method's name, `upscaleMultiple` for Custom (when > 1), else 1. */
export function upscaleFactor(method: string, upscaleMultiple: number): number {
  const m = method.toLowerCase();
  if (m.includes('custom')) return upscaleMultiple > 1 ? upscaleMultiple : 1;
  if (m.includes('1.5x')) return 1.5;
  if (m.includes('2x')) return 2;
  return 1;
}

/** Fooocus apply_upscale's size rule for an input of `height`×`width` and factor `factor`. */
export function upscaleSize(height: number, width: number, factor: number): UpscaleSize {
  const shapeCeil = getShapeCeil(height * factor, width * factor);
  if (shapeCeil < UPSCALE_MIN_SHAPE_CEIL) {
    return { shapeCeil: UPSCALE_MIN_SHAPE_CEIL, resize: { shapeCeil: UPSCALE_MIN_SHAPE_CEIL }, superLarge: false };
  }
  return {
    shapeCeil,
    // PIL's resize gets Python int() of the float sizes: truncation.
    resize: { width: Math.trunc(width * factor), height: Math.trunc(height * factor) },
    superLarge: shapeCeil > UPSCALE_DIRECT_RETURN_SHAPE_CEIL,
  };
}

/** Whether Fooocus returns the upscaled image as it is (no diffusion). */
export function isDirectReturn(goal: UpscaleGoal, size: UpscaleSize): boolean {
  return goal.fast || size.superLarge;
}

/**
 * The upscaler file's real path: `fooocus_upscaler_s409985e5.safetensors` when present (the
 * safer format; same keys), else the `.bin` Fooocus downloads. Missing → model_missing naming
 * the file and where to put it. Real path: the engine's graph cache links the weight file.
 */
export async function upscalerModelPath(modelsDir: string): Promise<{ path: string; name: string }> {
  const stem = UPSCALER_FILE.replace(/\.bin$/, '');
  for (const name of [`${UPSCALER_FOLDER}/${stem}.safetensors`, `${UPSCALER_FOLDER}/${UPSCALER_FILE}`]) {
    const path = join(modelsDir, ...name.split('/'));
    if (existsSync(path)) return { path: await realpath(path), name };
  }
  throw new TaskInputError(
    'model_missing',
    `Upscale needs Fooocus's upscaler model at ${UPSCALER_FOLDER}/${UPSCALER_FILE} in the models directory (none found; Fooocus downloads it from ${UPSCALER_SOURCE}; ` +
      `a ${stem}.safetensors with the same tensors is used too)`,
  );
}
