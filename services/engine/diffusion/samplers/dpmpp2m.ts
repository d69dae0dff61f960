/**
 * DPM++(2M) (k-diffusion `sample_dpmpp_2m`): deterministic second-order
 * multistep in t = −ln σ. With h = t_{i+1} − t_i and r = h_{i−1}/h:
 * D' = (1 + 1/(2r))·D_i − 1/(2r)·D_{i−1}, x ← (σ_{i+1}/σ_i)·x − expm1(−h)·D'.
 * The first step and the step into 0 use D' = D_i (first order).
 */
import type { Latent, SamplerFn } from '../types.ts';
import { runSteps } from './stepProtocol.ts';

export const sampleDpmpp2m: SamplerFn = (denoise, xInit, sigmas, opts) => {
  let oldDenoised: Latent | null = null;
  return runSteps(denoise, xInit, sigmas, opts, ({ i, x, denoised, sigma, sigmaNext }) => {
    const t = -Math.log(sigma);
    const tNext = -Math.log(sigmaNext);
    const h = tNext - t;
    // exp(-tNext) rather than sigmaNext: identical for sigmaNext > 0 and 0 at sigmaNext = 0, as the reference.
    const a = Math.exp(-tNext) / sigma;
    const b = Math.expm1(-h);
    const n = x.length;
    const next = new Float64Array(n);
    if (oldDenoised === null || sigmaNext === 0) {
      for (let k = 0; k < n; k++) next[k] = a * x[k] - b * denoised[k];
    } else {
      const hLast = t + Math.log(sigmas[i - 1]);
      const r = hLast / h;
      const c1 = 1 + 1 / (2 * r);
      const c0 = 1 / (2 * r);
      for (let k = 0; k < n; k++) next[k] = a * x[k] - b * (c1 * denoised[k] - c0 * oldDenoised[k]);
    }
    oldDenoised = denoised;
    return next;
  });
};
