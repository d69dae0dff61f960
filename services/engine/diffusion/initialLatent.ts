/**
 * The sampler's starting latent: x_init = noise·s + latent, where latent is
 * the sampling-space input latent (zeros for SDXL txt2img, `emptyLatentIn`
 * for Playground) and s depends on whether the schedule starts at full noise
 * (ComfyUI `KSampler.max_denoise` + `EPS.noise_scaling`):
 *  - σ0 ≥ σmax (math.isclose with rel_tol 1e-5, or above): s = sqrt(1 + σ0²),
 *    the variance-preserving start ComfyUI/Fooocus use even for EDM models;
 *  - otherwise (denoise < 1, ddim_uniform starting at σ(751)): s = σ0, which
 *    is also what plain k-diffusion always does.
 * EDM is deliberately not sqrt(σ_data² + σ0²): Fooocus keeps the "1 + σ0²"
 * rule there (golden README §2.10; the golden runs cannot tell the two apart).
 */
import type { ModelSampling } from './types.ts';

/** Relative tolerance of ComfyUI's `math.isclose(sigma_max, sigma0, rel_tol=1e-05)`. */
const MAX_DENOISE_REL_TOL = 1e-5;

/** Whether a schedule starting at `sigma0` counts as starting from pure noise. */
export function isMaxDenoise(ms: ModelSampling, sigma0: number): boolean {
  const max = ms.sigmaMax;
  const close = Math.abs(max - sigma0) <= MAX_DENOISE_REL_TOL * Math.max(Math.abs(max), Math.abs(sigma0));
  return close || sigma0 > max;
}

/** The factor the unit noise is multiplied by for a schedule starting at `sigma0`. */
export function initialNoiseScale(ms: ModelSampling, sigma0: number): number {
  return isMaxDenoise(ms, sigma0) ? Math.sqrt(1 + sigma0 * sigma0) : sigma0;
}

export interface InitialLatentInput {
  /** Unit normal noise (e.g. `torchRandn(shape, seed)`), flat NCHW. */
  noise: ArrayLike<number>;
  /** The schedule the sampler will run; only sigmas[0] is read. */
  sigmas: Float64Array;
  modelSampling: ModelSampling;
  /** Sampling-space input latent of the same size; default zeros (SDXL txt2img). */
  latent?: ArrayLike<number>;
}

/** x_init = noise·scale(σ0) + latent. */
export function initialLatent({ noise, sigmas, modelSampling, latent }: InitialLatentInput): Float64Array {
  if (sigmas.length === 0) throw new RangeError('initialLatent: empty schedule');
  if (latent && latent.length !== noise.length) {
    throw new RangeError(`initialLatent: latent has ${latent.length} values, noise ${noise.length}`);
  }
  const scale = initialNoiseScale(modelSampling, sigmas[0]);
  const out = new Float64Array(noise.length);
  for (let i = 0; i < noise.length; i++) out[i] = noise[i] * scale + (latent ? latent[i] : 0);
  return out;
}
