/**
 * DPM-2 (k-diffusion `sample_dpm_2`, s_churn = 0): a midpoint method in
 * log σ. The slope is re-evaluated at σ_mid = exp((ln σ_i + ln σ_{i+1})/2)
 * and used for the whole step; the step into 0 is Euler. Fooocus samples it
 * on a schedule built for n+1 steps with the penultimate sigma dropped (the
 * scheduler's job, not this file's).
 */
import type { SamplerFn } from '../types.ts';
import { reportStep, throwIfAborted } from './stepProtocol.ts';

export const sampleDpm2: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await denoise(x, sigma);
    await reportStep(opts, { i, total, x, denoised, sigma });
    const n = x.length;
    const next = new Float64Array(n);
    if (sigmaNext === 0) {
      const dt = sigmaNext - sigma;
      for (let k = 0; k < n; k++) next[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt;
    } else {
      const sigmaMid = Math.exp((Math.log(sigma) + Math.log(sigmaNext)) / 2);
      const dt1 = sigmaMid - sigma;
      const dt2 = sigmaNext - sigma;
      const x2 = new Float64Array(n);
      for (let k = 0; k < n; k++) x2[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt1;
      const denoised2 = await denoise(x2, sigmaMid);
      for (let k = 0; k < n; k++) next[k] = x[k] + ((x2[k] - denoised2[k]) / sigmaMid) * dt2;
    }
    x = next;
  }
  return x;
};
