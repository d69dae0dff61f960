/**
 * Heun++ (k-diffusion/ComfyUI `sample_heunpp2`, from Carzit's
 * sd-webui-samplers-scheduler), s_churn = 0.
 *
 * Each step looks two sigmas ahead: Euler predictors to σ_{i+1} and σ_{i+2}
 * with an evaluation at each, and the step taken with slope weights
 * w2 = σ_{i+1}/(3σ_0), w3 = σ_{i+2}/(3σ_0), w1 = 1 − w2 − w3. Near the end it
 * falls back to Heun with w2 = σ_{i+1}/(2σ_0) (when σ_{i+2} is the last sigma)
 * and to Euler (when σ_{i+1} is). "Last sigma" is compared by value, as the
 * reference does. The reference draws a `randn_like` per step that is only
 * used when s_churn > 0; it is not drawn here (golden README §2.10: cannot
 * change the result).
 */
import type { SamplerFn } from '../types.ts';
import { runSteps } from './stepProtocol.ts';

export const sampleHeunpp2: SamplerFn = (denoise, xInit, sigmas, opts) => {
  const sigmaEnd = sigmas[sigmas.length - 1];
  const sigma0 = sigmas[0];
  return runSteps(denoise, xInit, sigmas, opts, async ({ i, x, denoised, sigma, sigmaNext: sigma1 }) => {
    const dt = sigma1 - sigma;
    const n = x.length;
    const d = new Float64Array(n);
    for (let k = 0; k < n; k++) d[k] = (x[k] - denoised[k]) / sigma;
    const next = new Float64Array(n);
    if (sigma1 === sigmaEnd) {
      for (let k = 0; k < n; k++) next[k] = x[k] + d[k] * dt;
      return next;
    }
    const x2 = new Float64Array(n);
    for (let k = 0; k < n; k++) x2[k] = x[k] + d[k] * dt;
    const denoised2 = await denoise(x2, sigma1);
    const d2 = new Float64Array(n);
    for (let k = 0; k < n; k++) d2[k] = (x2[k] - denoised2[k]) / sigma1;
    const sigma2 = sigmas[i + 2];
    if (sigma2 === sigmaEnd) {
      const w2 = sigma1 / (2 * sigma0);
      const w1 = 1 - w2;
      for (let k = 0; k < n; k++) next[k] = x[k] + (d[k] * w1 + d2[k] * w2) * dt;
    } else {
      const dt2 = sigma2 - sigma1;
      const x3 = new Float64Array(n);
      for (let k = 0; k < n; k++) x3[k] = x2[k] + d2[k] * dt2;
      const denoised3 = await denoise(x3, sigma2);
      const w = 3 * sigma0;
      const w2 = sigma1 / w;
      const w3 = sigma2 / w;
      const w1 = 1 - w2 - w3;
      for (let k = 0; k < n; k++) {
        const d3 = (x3[k] - denoised3[k]) / sigma2;
        next[k] = x[k] + (w1 * d[k] + w2 * d2[k] + w3 * d3) * dt;
      }
    }
    return next;
  });
};
