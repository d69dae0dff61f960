/**
 * DDPM ancestral sampling (ComfyUI `sample_ddpm` = `generic_step_sampler` +
 * `DDPMSampler_step`), written in VP scaling: x_vp = x/sqrt(1+σ²), ᾱ = 1/(1+σ²)
 * taken from σ itself (not from the model's table), α = ᾱ_i/ᾱ_{i+1},
 *   μ = (x_vp − (1−α)·ε/sqrt(1−ᾱ_i)) / sqrt(α),  ε = (x − D)/σ_i,
 *   μ += sqrt((1−α)(1−ᾱ_{i+1})/(1−ᾱ_i)) · noise(σ_i, σ_{i+1})   when σ_{i+1} > 0,
 * and back to VE scaling with sqrt(1+σ_{i+1}²) (skipped into 0).
 */
import type { SamplerFn } from '../types.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

export const sampleDdpm: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'ddpm');
  return runSteps(denoise, xInit, sigmas, opts, ({ x, denoised, sigma, sigmaNext: sigmaPrev }) => {
    const alphaCumprod = 1 / (sigma * sigma + 1);
    const alphaCumprodPrev = 1 / (sigmaPrev * sigmaPrev + 1);
    const alpha = alphaCumprod / alphaCumprodPrev;
    const vpScale = 1 / Math.sqrt(1 + sigma * sigma);
    const muScale = Math.sqrt(1 / alpha);
    const epsScale = (1 - alpha) / Math.sqrt(1 - alphaCumprod);
    const outScale = sigmaPrev !== 0 ? Math.sqrt(1 + sigmaPrev * sigmaPrev) : 1;
    const n = x.length;
    const next = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const eps = (x[k] - denoised[k]) / sigma;
      next[k] = muScale * (x[k] * vpScale - epsScale * eps);
    }
    if (sigmaPrev > 0) {
      const z = noise(sigma, sigmaPrev);
      const c = Math.sqrt(((1 - alpha) * (1 - alphaCumprodPrev)) / (1 - alphaCumprod));
      for (let k = 0; k < n; k++) next[k] += c * z[k];
    }
    if (outScale !== 1) for (let k = 0; k < n; k++) next[k] *= outScale;
    return next;
  });
};
