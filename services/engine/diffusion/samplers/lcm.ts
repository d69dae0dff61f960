/**
 * LCM sampling (ComfyUI `sample_lcm`): jump to the denoised estimate, then
 * re-noise it to the next sigma with fresh noise: x ← D + σ_{i+1}·noise(σ_i, σ_{i+1}),
 * nothing added into 0. The re-noising is the model sampling's
 * `noise_scaling`, which is σ·noise + latent for every parameterisation
 * Fooocus uses (eps, distilled eps/LCM, EDM). The LCM boundary-condition
 * denoiser itself lives in the model sampling, not here.
 */
import type { SamplerFn } from '../types.ts';
import { reportStep, requireNoise, throwIfAborted } from './stepProtocol.ts';

export const sampleLcm: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'lcm');
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await denoise(x, sigma);
    await reportStep(opts, { i, total, x, denoised, sigma });
    if (sigmaNext > 0) {
      const z = noise(sigma, sigmaNext);
      const next = new Float64Array(x.length);
      for (let k = 0; k < next.length; k++) next[k] = denoised[k] + sigmaNext * z[k];
      x = next;
    } else {
      x = denoised;
    }
  }
  return x;
};
