// What this engine cannot do yet, refused up front with a message that names the feature,
// instead of silently returning a plain text-to-image result for an upscale request.
//
// The engine runs text-to-image only (no vary/upscale, inpaint/outpaint, image prompts,
// enhance; no refiner, custom VAE, FreeU or LoRA merging: open engine issues). Each feature
// is refused only when Fooocus would actually USE it, mirroring its goal selection
// (F modules/async_worker.py `handler`): a `current_tab` of 'uov' without an input image, or
// an image in a tab that is not selected, runs plain text-to-image in Fooocus too, and
// FooocusAPI's default request (no images) must keep working.
//
// User LoRAs are handled by the planner (absent files are skipped as Fooocus does; present
// files are refused). The performance LoRA (Extreme Speed, Lightning, Hyper-SD) is always
// refused: Fooocus downloads it when missing, so its modes never run without it, and their
// forced 4–8 steps at cfg 1 give unusable images without the LoRA.
import type { GenerationJob } from '../core/request/generationJob.ts';
import { DEFAULT_VAE } from '../core/request/fooocusConstants.ts';
import { TaskInputError } from './taskFailure.ts';

const TEXT_TO_IMAGE_ONLY = 'only text-to-image runs on this engine for now';

export function assertTextToImageOnly(job: GenerationJob): void {
  const feature = unsupportedFeature(job);
  if (feature) throw new TaskInputError('invalid_input', feature);
}

/** The first requested feature the engine lacks, as a client-facing message; null when none. */
export function unsupportedFeature(job: GenerationJob): string | null {
  const tab = job.currentTab;
  const mixUov = tab === 'ip' && job.controlnet.mixingImagePromptAndVaryUpscale;
  const mixInpaint = tab === 'ip' && job.controlnet.mixingImagePromptAndInpaint;

  if ((tab === 'uov' || mixUov) && job.uov.image && job.uov.method.toLowerCase() !== 'disabled') {
    return `${job.uov.method} is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if ((tab === 'inpaint' || mixInpaint) && job.inpaint.image) {
    return `Inpaint/outpaint is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (tab === 'ip' || job.controlnet.mixingImagePromptAndVaryUpscale || job.controlnet.mixingImagePromptAndInpaint) {
    const types = [...new Set(job.imagePrompts.filter((s) => s.image).map((s) => s.type))];
    if (types.length > 0) return `Image prompt (${types.join(', ')}) is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (tab === 'enhance' && job.enhance.image) {
    return `Enhance is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (job.enhance.enabled && (job.enhance.uovMethod.toLowerCase() !== 'disabled' || job.enhance.tabs.some((t) => t.enabled))) {
    return `Enhance is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (job.refinerModel) return `Refiner is not supported yet: ${job.refinerModel} (set refiner_model_name to "None")`;
  if (job.vae !== DEFAULT_VAE) return `Custom VAE is not supported yet: ${job.vae} (use "${DEFAULT_VAE}")`;
  if (job.freeu.enabled) return 'FreeU is not supported yet (set freeu_enabled to false)';
  if (job.performanceLora) {
    return `LoRA merging is not supported yet: ${job.performanceLora.name} (needed by performance '${job.performance}'; use Speed or Quality)`;
  }
  return null;
}
