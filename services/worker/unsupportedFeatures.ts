// What this engine cannot do yet, refused up front with a message that names the feature,
// instead of silently returning a plain text-to-image result for an upscale request.
//
// The engine runs text-to-image with Fooocus' text-to-image features (LoRAs, performance
// modes, refiner, VAE override, FreeU, Fooocus V2 expansion, wildcards, NSFW censoring) and
// Vary (Subtle/Strong) (varyGoal.ts), Upscale (1.5x, 2x, Fast 2x, Custom) (upscaleGoal.ts) and
// inpaint/outpaint (inpaintGoal.ts) and image prompts of types ImagePrompt, PyraCanny and CPDS,
// alone or mixed with those as Fooocus' mixing flags allow (imagePromptGoal.ts). Still missing
// (open engine issues): the FaceSwap image prompt, enhance, and the
// refiner swap method 'vae' (an SD 1.5 refiner through Fooocus' latent interposer, a model
// this engine does not have).
//
// Each feature is refused only when Fooocus would actually USE it, mirroring its goal
// selection (F modules/async_worker.py `handler`): a `current_tab` of 'uov' without an input
// image, or an image in a tab that is not selected, runs plain text-to-image in Fooocus too,
// and FooocusAPI's default request (no images) must keep working. Likewise the swap method
// only matters when a refiner runs (none is a no-op in Fooocus, whatever the method says).
import type { GenerationJob } from '../core/request/generationJob.ts';
import { TaskInputError } from './taskFailure.ts';
import { imagePromptGoal } from './imagePromptGoal.ts';
import { inpaintSelected } from './inpaintGoal.ts';
import { upscaleGoal } from './upscaleGoal.ts';
import { uovSelected, varyGoal } from './varyGoal.ts';

const TEXT_TO_IMAGE_ONLY = 'only text-to-image, Vary, Upscale, inpaint/outpaint and image prompts (ImagePrompt, PyraCanny, CPDS) run on this engine for now';

export function assertTextToImageOnly(job: GenerationJob): void {
  const feature = unsupportedFeature(job);
  if (feature) throw new TaskInputError('invalid_input', feature);
}

/** The first requested feature the engine lacks, as a client-facing message; null when none. */
export function unsupportedFeature(job: GenerationJob): string | null {
  const tab = job.currentTab;

  // Vary and Upscale run (planTextToImage.ts); a method that is neither is refused.
  if (uovSelected(job) && !varyGoal(job) && !upscaleGoal(job)) {
    return `${job.uov.method} is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (inpaintSelected(job) && job.inpaint.debuggingPreprocessor) {
    return `debugging_inpaint_preprocessor (returning Fooocus' mask-processing visualisation instead of an image) is not supported yet; send it false`;
  }
  // ImagePrompt, PyraCanny and CPDS run (imagePromptGoal.ts); FaceSwap needs Fooocus' face crop
  // (facexlib RetinaFace) and the IP-Adapter Face model, which this engine does not have.
  const faceSwap = imagePromptGoal(job)?.slots.filter((s) => s.type === 'FaceSwap') ?? [];
  if (faceSwap.length > 0) {
    const fields = faceSwap.map((s) => `controlnet_image.${s.index}`).join(', ');
    return `Image prompt type FaceSwap (${fields}) is not supported yet: it needs Fooocus' face detection (facexlib RetinaFace) and the IP-Adapter Plus Face model, which this engine does not have; use cn_type ImagePrompt, PyraCanny or CPDS`;
  }
  if (tab === 'enhance' && job.enhance.image) {
    return `Enhance is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (job.enhance.enabled && (job.enhance.uovMethod.toLowerCase() !== 'disabled' || job.enhance.tabs.some((t) => t.enabled))) {
    return `Enhance is not supported yet: ${TEXT_TO_IMAGE_ONLY}`;
  }
  if (job.refinerModel && job.refinerSwapMethod === 'vae') {
    return `Refiner swap method 'vae' is not supported yet: it needs Fooocus' SD 1.5 latent interposer (vae_interpose), which this engine does not have; use refiner_swap_method "joint" or "separate"`;
  }
  return null;
}
