/**
 * LCM sampling (ComfyUI `sample_lcm`): jump to the denoised estimate, then
 * re-noise it to the next sigma with fresh noise: x ← D + σ_{i+1}·noise(σ_i, σ_{i+1}),
 * nothing added into 0. The re-noising is the model sampling's
 * `noise_scaling`, which is σ·noise + latent for every parameterisation
 * Fooocus uses (eps, distilled eps/LCM, EDM). The LCM boundary-condition
 * denoiser itself lives in the model sampling, not here.
 */
import type { SamplerFn } from '../types.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

export const sampleLcm: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'lcm');
  return runSteps(denoise, xInit, sigmas, opts, ({ x, denoised, sigma, sigmaNext }) => {
    if (sigmaNext > 0) {
      const z = noise(sigma, sigmaNext);
      const next = new Float64Array(x.length);
      for (let k = 0; k < next.length; k++) next[k] = denoised[k] + sigmaNext * z[k];
      return next;
    }
    return denoised;
  });
};
