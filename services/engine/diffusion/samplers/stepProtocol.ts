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
 */
import type { NoiseSampler, SamplerOptions, SamplerStepInfo } from '../types.ts';

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
