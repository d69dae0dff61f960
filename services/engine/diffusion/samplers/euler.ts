/**
 * Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0, the only setting
 * Fooocus uses): x ← x + (x − D)/σ_i · (σ_{i+1} − σ_i).
 *
 * Also what Fooocus runs for `ddim` (KSampler maps it to `sample_euler`; the
 * golden `ddim` run equals `euler` bit for bit) and for any unknown sampler
 * name. The churn branch is left out on purpose: with s_churn = 0 its gamma is
 * always 0 and it draws no noise.
 */
import type { SamplerFn } from '../types.ts';
import { reportStep, throwIfAborted } from './stepProtocol.ts';

export const sampleEuler: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const denoised = await denoise(x, sigma);
    await reportStep(opts, { i, total, x, denoised, sigma });
    const dt = sigmas[i + 1] - sigma;
    const next = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt;
    x = next;
  }
  return x;
};
