/**
 * The contract every sampler keeps with its caller, written once so the 24
 * samplers cannot drift apart on it:
 *
 * - cancellation is checked at the top of every step (before the denoiser
 *   call, which is the expensive part), via `signal.throwIfAborted()`, so the
 *   caller's abort reason propagates unchanged;
 * - progress is reported the way k-diffusion's `callback` is: once per step,
 *   right after the step's first denoiser evaluation, with the state `x` that
 *   entered the step and that evaluation's `denoised` (golden `callbacks`
 *   records `after_eval` for every run and the replay test checks it);
 * - a stochastic sampler asks for its noise source up front and fails before
 *   any UNet work with an error that names the sampler.
 *
 * `runSteps` is that contract as a loop, for the samplers that take one step
 * per sigma interval and evaluate the denoiser first at (x, σ_i): they supply
 * only what happens after that first evaluation. Samplers whose steps or
 * reports differ (tcd reports a rescaled denoised, restart, dpm_fast,
 * dpm_adaptive and uni_pc choose their own steps) call the pieces directly.
 */
import type { Denoiser, Latent, NoiseSampler, SamplerOptions, SamplerStepInfo } from '../types.ts';

export function throwIfAborted(opts: SamplerOptions): void {
  opts.signal?.throwIfAborted();
}

export async function reportStep(opts: SamplerOptions, info: SamplerStepInfo): Promise<void> {
  if (opts.onStep) await opts.onStep(info);
}

export function requireNoise(opts: SamplerOptions, samplerName: string): NoiseSampler {
  if (!opts.noise) {
    throw new Error(`sampler "${samplerName}" is stochastic: SamplerOptions.noise must supply its noise`);
  }
  return opts.noise;
}

/** What `runSteps` hands a step: the state entering step i and its first evaluation. */
export interface StepInput {
  /** Index of the step in `sigmas` (0-based). */
  i: number;
  x: Latent;
  /** D(x, σ_i), already reported. */
  denoised: Latent;
  sigma: number;
  sigmaNext: number;
}

/**
 * For each interval σ_i → σ_{i+1}: check for abort, evaluate D(x, σ_i), report
 * it, then let `step` compute the next x (it may evaluate the denoiser again).
 */
export async function runSteps(
  denoise: Denoiser,
  xInit: Latent,
  sigmas: Float64Array,
  opts: SamplerOptions,
  step: (input: StepInput) => Latent | Promise<Latent>,
): Promise<Latent> {
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await denoise(x, sigma);
    await reportStep(opts, { i, total, x, denoised, sigma });
    x = await step({ i, x, denoised, sigma, sigmaNext });
  }
  return x;
}
