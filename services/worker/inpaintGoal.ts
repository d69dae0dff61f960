// Whether a request runs Fooocus inpaint/outpaint, with which settings and model files —
// Fooocus' own rules (F modules/async_worker.py apply_image_input / apply_outpaint /
// apply_inpaint, modules/config.py downloading_inpaint_models; FooocusAPI's worker for
// outpaint_distance; pipeline.md §3.3–3.4):
//   - the goal: the 'inpaint' tab (or 'ip' with mixing_image_prompt_and_inpaint) and an input
//     image. FooocusAPI passes `inpaint_mask_image_upload` twice: as the drawn mask
//     (`{"image": img, "mask": upload}`, of which Fooocus takes channel 0 as it is; zeros when
//     there is no upload) and as the advanced-masking upload (the API forces the checkbox on iff
//     one was sent: resampled, channel mean > 127, max-merged). Fooocus' max of the two fails
//     when the sizes differ, so a mask of another size is refused (invalid_input). Fooocus then
//     runs the goal only when the prepared mask has a pixel > 127 or an outpaint side is
//     selected — that is decided on the pixels, in the engine thread (Engine.prepareInpaint
//     returns null, and the attempt re-plans as text-to-image: `planTextToImage`'s
//     `inpaintSkipped`);
//   - strength = `inpaint_strength`, respective field = `inpaint_respective_field`; an outpaint
//     forces both to 1.0;
//   - the inpaint engine v1 / v2.5 / v2.6 needs `inpaint/fooocus_inpaint_head.pth` and
//     `inpaint/inpaint.fooocus.patch` / `inpaint_v25.fooocus.patch` / `inpaint_v26.fooocus.patch`;
//     'None' runs without them (no head, no patch, no synthetic refiner);
//   - with the engine on and no refiner, Fooocus adds its synthetic refiner and sets
//     refiner_switch 0.8: switch = round(performance steps × 0.8) (half to even), or
//     overwrite_switch when > 0;
//   - `inpaint_additional_prompt` becomes the prompt's first line: `add + "\n" + prompt`, or
//     the prompt itself when the prompt is empty;
//   - Fooocus always downloads the upscaler for inpaint (small crops are ESRGAN-upscaled), so
//     its file is required as for Upscale (upscaleGoal.ts).
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { PERFORMANCE_SPECS, type InpaintEngine, type OutpaintDirection, type Performance } from '../core/request/fooocusConstants.ts';
import type { GenerationJob, ImageSource } from '../core/request/generationJob.ts';
import { roundHalfEven } from '../core/request/normaliseRequest.ts';
import { OUTPAINT_RESPECTIVE_FIELD, OUTPAINT_STRENGTH, type OutpaintSide } from '../engine/inpaint/outpaint.ts';
import { TaskInputError } from './taskFailure.ts';

/** Fooocus' inpaint model folder under the models directory (`path_inpaint`). */
export const INPAINT_FOLDER = 'inpaint';
export const INPAINT_HEAD_FILE = 'fooocus_inpaint_head.pth';
/** F modules/config.py downloading_inpaint_models. */
export const INPAINT_PATCH_FILES: Readonly<Record<Exclude<InpaintEngine, 'None'>, string>> = {
  v1: 'inpaint.fooocus.patch',
  'v2.5': 'inpaint_v25.fooocus.patch',
  'v2.6': 'inpaint_v26.fooocus.patch',
};
const INPAINT_SOURCE = 'https://huggingface.co/lllyasviel/fooocus_inpaint/resolve/main/';
/** Fooocus' refiner_switch with its synthetic refiner. */
export const SYNTHETIC_REFINER_SWITCH = 0.8;

export interface InpaintGoal {
  image: ImageSource;
  /** The advanced-masking upload (merged into the zero drawn mask), or null. */
  maskUpload: ImageSource | null;
  erodeOrDilate: number;
  invert: boolean;
  outpaint: { sides: OutpaintSide[]; distances: { left: number; top: number; right: number; bottom: number } };
  /** Denoise: inpaint_strength, 1.0 for an outpaint. */
  strength: number;
  /** inpaint_respective_field, 1.0 for an outpaint. */
  respectiveField: number;
  engine: InpaintEngine;
  disableInitialLatent: boolean;
  additionalPrompt: string;
}

/** Whether Fooocus would act on the inpaint tab's image (before looking at the mask's pixels). */
export function inpaintSelected(job: GenerationJob): boolean {
  const tab = job.currentTab;
  return (tab === 'inpaint' || (tab === 'ip' && job.controlnet.mixingImagePromptAndInpaint)) && !!job.inpaint.image;
}

/** The inpaint this request asks for, or null (another tab, no image). */
export function inpaintGoal(job: GenerationJob): InpaintGoal | null {
  if (!inpaintSelected(job)) return null;
  const p = job.inpaint;
  const sides = [...new Set(p.outpaintSelections)].map((d: OutpaintDirection) => d.toLowerCase() as OutpaintSide);
  const outpaint = sides.length > 0;
  return {
    image: p.image!,
    maskUpload: p.advancedMasking && p.mask ? p.mask : null,
    erodeOrDilate: Math.trunc(p.erodeOrDilate),
    invert: p.invertMask,
    outpaint: { sides, distances: { ...p.outpaintDistance } },
    strength: outpaint ? OUTPAINT_STRENGTH : p.strength,
    respectiveField: outpaint ? OUTPAINT_RESPECTIVE_FIELD : p.respectiveField,
    engine: p.engine,
    disableInitialLatent: p.disableInitialLatent,
    additionalPrompt: p.additionalPrompt,
  };
}

/** Fooocus: the additional prompt as the prompt's first line. */
export function inpaintPrompt(prompt: string, additional: string): string {
  if (additional === '') return prompt;
  return prompt === '' ? additional : `${additional}\n${prompt}`;
}

/** The synthetic refiner's switch step: overwrite_switch when > 0, else round(performance steps × 0.8). */
export function syntheticSwitchStep(performance: Performance, overwriteSwitch: number): number {
  if (overwriteSwitch > 0) return overwriteSwitch;
  return roundHalfEven(PERFORMANCE_SPECS[performance].steps * SYNTHETIC_REFINER_SWITCH);
}

/** The request's overwrite_switch as recorded in its req_params (−1 when absent). */
export function overwriteSwitchOf(job: GenerationJob): number {
  const v = (job.reqParams as Record<string, unknown> | undefined)?.overwrite_switch;
  return typeof v === 'number' && Number.isFinite(v) ? v : -1;
}

/**
 * Head and patch for the inpaint engine (real paths), or null for 'None'. A missing file fails
 * the task with model_missing naming it and where to put it.
 */
export async function inpaintModelPaths(modelsDir: string, engine: InpaintEngine): Promise<{ headPath: string; patchPath: string; headName: string; patchName: string } | null> {
  if (engine === 'None') return null;
  const patchFile = INPAINT_PATCH_FILES[engine];
  if (!patchFile) throw new TaskInputError('invalid_input', `inpaint_engine '${engine}' is not one of None, v1, v2.5, v2.6`);
  const find = async (file: string, what: string) => {
    const path = join(modelsDir, INPAINT_FOLDER, file);
    if (!existsSync(path)) {
      throw new TaskInputError(
        'model_missing',
        `Inpaint engine ${engine} needs ${what} at ${INPAINT_FOLDER}/${file} in the models directory (not found; Fooocus downloads it from ${INPAINT_SOURCE}${file}), or send inpaint_engine "None"`,
      );
    }
    return realpath(path);
  };
  const headPath = await find(INPAINT_HEAD_FILE, "Fooocus's inpaint head");
  const patchPath = await find(patchFile, `the inpaint patch`);
  return { headPath, patchPath, headName: `${INPAINT_FOLDER}/${INPAINT_HEAD_FILE}`, patchName: `${INPAINT_FOLDER}/${patchFile}` };
}
