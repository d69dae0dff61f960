// Whether a request runs Fooocus "Vary", and with which strength — Fooocus' own goal selection
// (F modules/async_worker.py `apply_image_input` / `prepare_upscale` / `apply_vary`):
//   - the 'uov' tab (or the 'ip' tab with mixing_image_prompt_and_vary_upscale), a method
//     other than Disabled and an input image: the goal is 'vary' when the (case-folded)
//     method contains 'vary', 'upscale' when it contains 'upscale';
//   - denoise 0.5 for 'subtle', 0.85 for 'strong'; `overwrite_vary_strength` > 0 replaces it
//     (core keeps it as `uov.varyStrength`, null when ≤ 0);
//   - steps are the text-to-image steps (the performance's, or overwrite_step): Fooocus only
//     switches to the performance's UOV steps (`uovSteps`) for upscale, never for vary; the
//     refiner switch step is the text-to-image one as well.
import type { GenerationJob, ImageSource } from '../core/request/generationJob.ts';

/** Fooocus `apply_vary` strengths. */
export const VARY_SUBTLE_DENOISE = 0.5;
export const VARY_STRONG_DENOISE = 0.85;

export interface VaryGoal {
  /** The request's method as sent ('Vary (Subtle)' / 'Vary (Strong)'). */
  method: string;
  /** Denoising strength the sampler uses. */
  denoise: number;
  image: ImageSource;
  /** The request field the image came from (for messages). */
  field: 'uov_input_image';
}

/** Whether Fooocus would act on the Upscale-or-Variation tab's image at all. */
export function uovSelected(job: GenerationJob): boolean {
  const tab = job.currentTab;
  const mixUov = tab === 'ip' && job.controlnet.mixingImagePromptAndVaryUpscale;
  return (tab === 'uov' || mixUov) && !!job.uov.image && job.uov.method.toLowerCase() !== 'disabled';
}

/** The Vary this request runs, or null (no image, another tab, Disabled, an upscale). */
export function varyGoal(job: GenerationJob): VaryGoal | null {
  if (!uovSelected(job)) return null;
  const method = job.uov.method.toLowerCase();
  if (!method.includes('vary')) return null;
  // The two vary methods of flags.uov_list; core already dropped an overwrite ≤ 0.
  const preset = method.includes('subtle') ? VARY_SUBTLE_DENOISE : VARY_STRONG_DENOISE;
  const denoise = job.uov.varyStrength !== null && job.uov.varyStrength > 0 ? job.uov.varyStrength : preset;
  return { method: job.uov.method, denoise, image: job.uov.image!, field: 'uov_input_image' };
}
