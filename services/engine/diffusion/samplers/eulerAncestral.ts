/**
 * Euler ancestral (k-diffusion `sample_euler_ancestral`, eta = 1, s_noise = 1):
 * an Euler step down to σ_down, then fresh noise of std σ_up, drawn as
 * noise(σ_i, σ_{i+1}) after every step that does not end at 0.
 */
import type { SamplerFn } from '../types.ts';
import { ancestralStep } from './ancestralStep.ts';
import { reportStep, requireNoise, throwIfAborted } from './stepProtocol.ts';

export const sampleEulerAncestral: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'euler_ancestral');
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await denoise(x, sigma);
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    await reportStep(opts, { i, total, x, denoised, sigma });
    const dt = sigmaDown - sigma;
    const next = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt;
    if (sigmaNext > 0) {
      const eps = noise(sigma, sigmaNext);
      for (let k = 0; k < next.length; k++) next[k] += eps[k] * sigmaUp;
    }
    x = next;
  }
  return x;
};
