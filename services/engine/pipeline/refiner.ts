/**
 * Fooocus' refiner (pipeline.md §1.11): a second UNet that takes over the
 * last steps of a run.
 *
 * Conditioning. Fooocus never runs the refiner's own text encoder: it reuses
 * the base's conditioning through `clip_separate` (F modules/default_pipeline.py,
 * `clip_separate_after_preparation` in modules/sample_hijack.py):
 *  - an SDXL refiner gets the base context's last `context_dim` channels (the
 *    CLIP-G part; Fooocus slices `[..., -1280:]`, which is the refiner's
 *    context width) and the base pooled vector, through the refiner's own ADM
 *    `[pooled | E(h) E(w) E(0) E(0) E(aesthetic)]` with h, w = latent × 8 and
 *    ComfyUI's aesthetic scores (6 positive, 2.5 negative). That vector is
 *    2560 wide, not Fooocus' double-width 5632, so its timed-ADM switch never
 *    applies on refiner steps;
 *  - an SDXL base model used as refiner gets the base conditioning unchanged
 *    (`c.clone()`), its ADM built by the same patched encode_adm, so the same
 *    timed ADM as the base.
 *
 * Swap (F default_pipeline.process_diffusion, sample_hijack.sample_hacked):
 *  - `joint`: one sampler run; the k-diffusion callback of step `switch`
 *    swaps the model (`callback_wrap`), so the base runs steps 0…switch and the
 *    refiner the rest. The samplers here report a step exactly where
 *    k-diffusion calls back (after the step's first evaluation), so a
 *    two-evaluation sampler's second evaluation of step `switch` is already
 *    the refiner's, as in Fooocus. The sampler's history (dpmpp_2m's previous
 *    denoised, …) carries across the swap;
 *  - `separate`: two sampler runs, `sigmas[0..switch]` with the base, then
 *    `sigmas[switch..]` with the refiner from the first run's output, with no
 *    added noise (`disable_noise=True`: the start is the latent itself). The
 *    noise source continues across both runs, as Fooocus' one Brownian tree
 *    per image does ("Noise preserved");
 *  - `vae`: an SD 1.5 refiner reached through Fooocus' latent interposer
 *    (extras/vae_interpose.py), a model this engine does not ship: refused.
 */
import { sdxlRefinerAdm } from '../conditioning/admConditioning.ts';
import type { SamplerEntry } from '../diffusion/samplers/index.ts';
import type { Denoiser, Latent, ModelSampling, NoiseSampler, SamplerStepInfo } from '../diffusion/types.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import type { RefinerJob } from '../job.ts';
import type { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { TextConditioning } from './encodePrompt.ts';
import type { SideConditioning } from './unetDenoiser.ts';

/** ComfyUI SDXLRefiner.encode_adm defaults, which Fooocus keeps. */
export const REFINER_AESTHETIC_SCORE = { positive: 6, negative: 2.5 } as const;

/** The refiner ADM's size/crop/aesthetic sinusoids: 5 of 256 after the pooled vector. */
const REFINER_ADM_SINUSOIDS = 5 * 256;

export type PromptType = keyof typeof REFINER_AESTHETIC_SCORE;

/** A refiner job the engine can run; throws EngineInputError naming the problem. */
export function validateRefinerJob(refiner: RefinerJob, steps: number): void {
  if (refiner.swapMethod === 'vae') {
    throw new EngineInputError("refiner swap method 'vae' needs Fooocus' SD 1.5 latent interposer (vae_interpose), which this engine does not have; use 'joint' or 'separate'");
  }
  if (refiner.swapMethod !== 'joint' && refiner.swapMethod !== 'separate') {
    throw new EngineInputError(`unknown refiner swap method ${JSON.stringify(refiner.swapMethod)}; expected joint, separate or vae`);
  }
  if (!Number.isInteger(refiner.switchStep) || refiner.switchStep < 0 || refiner.switchStep > steps) {
    throw new EngineInputError(`refiner switch step must be an integer in 0..${steps}, got ${refiner.switchStep}`);
  }
}

/**
 * The refiner's conditioning for one prompt side, from the base's: `text` is
 * the base text conditioning, `base` what the base UNet gets for that side.
 */
export function refinerConditioning(refiner: LoadedCheckpoint, text: TextConditioning, base: SideConditioning, promptType: PromptType, height: number, width: number): SideConditioning {
  const { contextDim, admInChannels } = refiner.inspection.unet;
  if (!refiner.isRefiner) {
    // An SDXL base model as refiner: Fooocus hands it the base conditioning as it is.
    if (contextDim !== text.width || admInChannels !== base.adm.emphasized.length) {
      throw new EngineInputError(`refiner ${refiner.path} takes context ${contextDim} and ADM ${admInChannels}; the base gives ${text.width} and ${base.adm.emphasized.length}`);
    }
    return base;
  }
  const ctx = contextDim!;
  const pooledWidth = admInChannels! - REFINER_ADM_SINUSOIDS;
  if (ctx > text.width || pooledWidth !== text.pooled.length) {
    throw new EngineInputError(`refiner ${refiner.path} takes context ${ctx} and pooled ${pooledWidth}; the base gives ${text.width} and ${text.pooled.length}`);
  }
  const context = new Float32Array(text.tokens * ctx);
  for (let t = 0; t < text.tokens; t++) context.set(text.context.subarray((t + 1) * text.width - ctx, (t + 1) * text.width), t * ctx);
  const y = sdxlRefinerAdm(text.pooled, height, width, REFINER_AESTHETIC_SCORE[promptType]);
  return { text: { context, tokens: text.tokens, width: ctx }, adm: { emphasized: y, consistent: y } };
}

export interface RefinedSamplingInput {
  sampler: SamplerEntry;
  base: Denoiser;
  refiner: Denoiser;
  method: 'joint' | 'separate';
  switchStep: number;
  sigmas: Float64Array;
  xInit: Latent;
  modelSampling: ModelSampling;
  /** One source for the whole image (both runs of `separate`). */
  noise?: NoiseSampler;
  signal?: AbortSignal;
  /** Per step, `i` counted over the whole schedule. */
  onStep?: (info: SamplerStepInfo) => void | Promise<void>;
  /** Told which model the following evaluations use: 'base' first, 'refiner' from the swap on. */
  onSwap?: (model: 'base' | 'refiner') => void;
}

export async function sampleWithRefiner(input: RefinedSamplingInput): Promise<Latent> {
  const { sampler, sigmas, switchStep } = input;
  const total = sigmas.length - 1;
  const opts = { model: input.modelSampling, noise: input.noise, signal: input.signal };
  input.onSwap?.('base');
  if (input.method === 'joint') {
    let current = input.base;
    return sampler.run((x, sigma) => current(x, sigma), input.xInit, sigmas, {
      ...opts,
      onStep: async (info) => {
        // callback_wrap: swap first, then the user's callback.
        if (info.i === switchStep) {
          current = input.refiner;
          input.onSwap?.('refiner');
        }
        await input.onStep?.(info);
      },
    });
  }
  const shifted = (offset: number) => (input.onStep ? (info: SamplerStepInfo) => input.onStep!({ ...info, i: info.i + offset, total }) : undefined);
  // ComfyUI KSampler: last_step → sigmas[:switch+1]; start_step → sigmas[switch:]. An empty part is skipped.
  const split = Math.min(switchStep, total);
  const mid = split > 0 ? await sampler.run(input.base, input.xInit, sigmas.slice(0, split + 1), { ...opts, onStep: shifted(0) }) : input.xInit;
  if (split >= total) return mid;
  input.onSwap?.('refiner');
  return sampler.run(input.refiner, mid, sigmas.slice(split), { ...opts, onStep: shifted(split) });
}
