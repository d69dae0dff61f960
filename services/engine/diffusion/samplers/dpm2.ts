/**
 * DPM-2 (k-diffusion `sample_dpm_2`, s_churn = 0): a midpoint method in
 * log σ. The slope is re-evaluated at σ_mid = exp((ln σ_i + ln σ_{i+1})/2)
 * and used for the whole step; the step into 0 is Euler. Fooocus samples it
 * on a schedule built for n+1 steps with the penultimate sigma dropped (the
 * scheduler's job, not this file's).
 */
import type { SamplerFn } from '../types.ts';
import { eulerStep } from './eulerStep.ts';
import { runSteps } from './stepProtocol.ts';

export const sampleDpm2: SamplerFn = (denoise, xInit, sigmas, opts) =>
  runSteps(denoise, xInit, sigmas, opts, async ({ x, denoised, sigma, sigmaNext }) => {
    if (sigmaNext === 0) return eulerStep(x, denoised, sigma, sigmaNext);
    const n = x.length;
    const sigmaMid = Math.exp((Math.log(sigma) + Math.log(sigmaNext)) / 2);
    const dt1 = sigmaMid - sigma;
    const dt2 = sigmaNext - sigma;
    const x2 = new Float64Array(n);
    for (let k = 0; k < n; k++) x2[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt1;
    const denoised2 = await denoise(x2, sigmaMid);
    const next = new Float64Array(n);
    for (let k = 0; k < n; k++) next[k] = x[k] + ((x2[k] - denoised2[k]) / sigmaMid) * dt2;
    return next;
  });
