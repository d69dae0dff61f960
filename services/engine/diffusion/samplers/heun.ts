/**
 * Heun (Karras et al. 2022, Algorithm 2, s_churn = 0): an Euler predictor to
 * σ_{i+1}, a second evaluation there, and the step redone with the mean of
 * both slopes. The step into σ = 0 stays plain Euler (the slope at 0 is
 * undefined), so n steps cost 2n − 1 evaluations.
 */
import type { SamplerFn } from '../types.ts';
import { runSteps } from './stepProtocol.ts';

export const sampleHeun: SamplerFn = (denoise, xInit, sigmas, opts) =>
  runSteps(denoise, xInit, sigmas, opts, async ({ x, denoised, sigma, sigmaNext }) => {
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
    return next;
  });
