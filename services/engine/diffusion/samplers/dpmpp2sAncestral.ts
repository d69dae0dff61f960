/**
 * DPM++(2S) ancestral (k-diffusion `sample_dpmpp_2s_ancestral`, eta = 1): a
 * single-step second-order DPM-Solver++ update (midpoint r = 1/2 in
 * t = −ln σ) aimed at σ_down, then noise(σ_i, σ_{i+1}) · σ_up after every step
 * that does not end at 0. The step into 0 (σ_down = 0) is Euler.
 */
import type { SamplerFn } from '../types.ts';
import { ancestralStep } from './ancestralStep.ts';
import { reportStep, requireNoise, throwIfAborted } from './stepProtocol.ts';

export const sampleDpmpp2sAncestral: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'dpmpp_2s_ancestral');
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await denoise(x, sigma);
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    await reportStep(opts, { i, total, x, denoised, sigma });
    const n = x.length;
    const next = new Float64Array(n);
    if (sigmaDown === 0) {
      const dt = sigmaDown - sigma;
      for (let k = 0; k < n; k++) next[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt;
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
      for (let k = 0; k < n; k++) next[k] = a2 * x[k] - b2 * denoised2[k];
    }
    if (sigmaNext > 0) {
      const eps = noise(sigma, sigmaNext);
      for (let k = 0; k < n; k++) next[k] += eps[k] * sigmaUp;
    }
    x = next;
  }
  return x;
};
