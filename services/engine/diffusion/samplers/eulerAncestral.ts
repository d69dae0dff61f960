/**
 * Euler ancestral (k-diffusion `sample_euler_ancestral`, eta = 1, s_noise = 1):
 * an Euler step down to σ_down, then fresh noise of std σ_up, drawn as
 * noise(σ_i, σ_{i+1}) after every step that does not end at 0.
 */
import type { SamplerFn } from '../types.ts';
import { ancestralStep } from './ancestralStep.ts';
import { eulerStep } from './eulerStep.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

export const sampleEulerAncestral: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'euler_ancestral');
  return runSteps(denoise, xInit, sigmas, opts, ({ x, denoised, sigma, sigmaNext }) => {
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    const next = eulerStep(x, denoised, sigma, sigmaDown);
    if (sigmaNext > 0) {
      const eps = noise(sigma, sigmaNext);
      for (let k = 0; k < next.length; k++) next[k] += eps[k] * sigmaUp;
    }
    return next;
  });
};
