/**
 * Heun (Karras et al. 2022, Algorithm 2, s_churn = 0): an Euler predictor to
 * σ_{i+1}, a second evaluation there, and the step redone with the mean of
 * both slopes. The step into σ = 0 stays plain Euler (the slope at 0 is
 * undefined), so n steps cost 2n − 1 evaluations.
 */
import type { SamplerFn } from '../types.ts';
import { reportStep, throwIfAborted } from './stepProtocol.ts';

export const sampleHeun: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await denoise(x, sigma);
    await reportStep(opts, { i, total, x, denoised, sigma });
    const dt = sigmaNext - sigma;
    const n = x.length;
    const d = new Float64Array(n);
    for (let k = 0; k < n; k++) d[k] = (x[k] - denoised[k]) / sigma;
    const next = new Float64Array(n);
    if (sigmaNext === 0) {
      for (let k = 0; k < n; k++) next[k] = x[k] + d[k] * dt;
    } else {
      const x2 = new Float64Array(n);
      for (let k = 0; k < n; k++) x2[k] = x[k] + d[k] * dt;
      const denoised2 = await denoise(x2, sigmaNext);
      for (let k = 0; k < n; k++) {
        const d2 = (x2[k] - denoised2[k]) / sigmaNext;
        next[k] = x[k] + ((d[k] + d2) / 2) * dt;
      }
    }
    x = next;
  }
  return x;
};
