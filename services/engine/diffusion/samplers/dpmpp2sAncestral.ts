/**
 * DPM++(2S) ancestral (k-diffusion `sample_dpmpp_2s_ancestral`, eta = 1): a
 * single-step second-order DPM-Solver++ update (midpoint r = 1/2 in
 * t = −ln σ) aimed at σ_down, then noise(σ_i, σ_{i+1}) · σ_up after every step
 * that does not end at 0. The step into 0 (σ_down = 0) is Euler.
 */
import type { Latent, SamplerFn } from '../types.ts';
import { ancestralStep } from './ancestralStep.ts';
import { eulerStep } from './eulerStep.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

export const sampleDpmpp2sAncestral: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'dpmpp_2s_ancestral');
  return runSteps(denoise, xInit, sigmas, opts, async ({ x, denoised, sigma, sigmaNext }) => {
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    const n = x.length;
    let next: Latent;
    if (sigmaDown === 0) {
      next = eulerStep(x, denoised, sigma, sigmaDown);
    } else {
      const t = -Math.log(sigma);
      const tNext = -Math.log(sigmaDown);
      const h = tNext - t;
      const s = t + h / 2;
      const sigmaS = Math.exp(-s);
      const a1 = sigmaS / sigma;
      const b1 = Math.expm1(-h / 2);
      const x2 = new Float64Array(n);
      for (let k = 0; k < n; k++) x2[k] = a1 * x[k] - b1 * denoised[k];
      const denoised2 = await denoise(x2, sigmaS);
      const a2 = Math.exp(-tNext) / sigma;
      const b2 = Math.expm1(-h);
      next = new Float64Array(n);
      for (let k = 0; k < n; k++) next[k] = a2 * x[k] - b2 * denoised2[k];
    }
    if (sigmaNext > 0) {
      const eps = noise(sigma, sigmaNext);
      for (let k = 0; k < n; k++) next[k] += eps[k] * sigmaUp;
    }
    return next;
  });
};
