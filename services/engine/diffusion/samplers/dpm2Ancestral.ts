/**
 * DPM-2 ancestral (k-diffusion `sample_dpm_2_ancestral`, eta = 1): the DPM-2
 * midpoint step aimed at σ_down, then noise(σ_i, σ_{i+1}) · σ_up. When
 * σ_down is 0 (the step into 0) it is a plain Euler step and, as in the
 * reference, no noise is added.
 */
import type { SamplerFn } from '../types.ts';
import { ancestralStep } from './ancestralStep.ts';
import { eulerStep } from './eulerStep.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

export const sampleDpm2Ancestral: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'dpm_2_ancestral');
  return runSteps(denoise, xInit, sigmas, opts, async ({ x, denoised, sigma, sigmaNext }) => {
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    if (sigmaDown === 0) return eulerStep(x, denoised, sigma, sigmaDown);
    const n = x.length;
    const sigmaMid = Math.exp((Math.log(sigma) + Math.log(sigmaDown)) / 2);
    const dt1 = sigmaMid - sigma;
    const dt2 = sigmaDown - sigma;
    const x2 = new Float64Array(n);
    for (let k = 0; k < n; k++) x2[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt1;
    const denoised2 = await denoise(x2, sigmaMid);
    const eps = noise(sigma, sigmaNext);
    const next = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      next[k] = x[k] + ((x2[k] - denoised2[k]) / sigmaMid) * dt2 + eps[k] * sigmaUp;
    }
    return next;
  });
};
