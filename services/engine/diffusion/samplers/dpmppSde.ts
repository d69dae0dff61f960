/**
 * DPM++ SDE (k-diffusion `sample_dpmpp_sde`, eta = 1, r = 1/2); Fooocus runs
 * `dpmpp_sde_gpu` with the same function and the same global Brownian tree.
 *
 * Each step is two ancestral DPM-Solver++ half-updates in t = −ln σ: to
 * σ_mid = exp(−(t_i + h/2)) with noise(σ_i, σ_mid), then from σ_i to σ_{i+1}
 * using D' = (1 − 1/(2r))·D + 1/(2r)·D_mid with noise(σ_i, σ_{i+1}). The two
 * noise intervals overlap, so the noise source must be a Brownian path (the
 * engine's Brownian sampler), not independent draws (golden README §2.10:
 * independent draws move x_final by 0.11). The second query passes σ_{i+1}
 * itself rather than the reference's exp(ln σ) round trip, so a Brownian
 * source sees the schedule's own points and adds no spurious sub-interval.
 */
import type { SamplerFn } from '../types.ts';
import { ancestralStep } from './ancestralStep.ts';
import { eulerStep } from './eulerStep.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

const R = 1 / 2;

export const sampleDpmppSde: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'dpmpp_sde');
  return runSteps(denoise, xInit, sigmas, opts, async ({ x, denoised, sigma, sigmaNext }) => {
    if (sigmaNext === 0) return eulerStep(x, denoised, sigma, sigmaNext);
    const n = x.length;
    const t = -Math.log(sigma);
    const tNext = -Math.log(sigmaNext);
    const h = tNext - t;
    const s = t + h * R;
    const sigmaS = Math.exp(-s);
    const fac = 1 / (2 * R);

    // Step 1: ancestral half-step to σ_mid.
    const step1 = ancestralStep(sigma, sigmaS);
    const s1 = -Math.log(step1.sigmaDown);
    const a1 = Math.exp(-s1) / sigma;
    const b1 = Math.expm1(t - s1);
    const noise1 = noise(sigma, sigmaS);
    const x2 = new Float64Array(n);
    for (let k = 0; k < n; k++) x2[k] = a1 * x[k] - b1 * denoised[k] + noise1[k] * step1.sigmaUp;
    const denoised2 = await denoise(x2, sigmaS);

    // Step 2: the full step with the blended denoised.
    const step2 = ancestralStep(sigma, sigmaNext);
    const tNextDown = -Math.log(step2.sigmaDown);
    const a2 = Math.exp(-tNextDown) / sigma;
    const b2 = Math.expm1(t - tNextDown);
    const noise2 = noise(sigma, sigmaNext);
    const next = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const dBlend = (1 - fac) * denoised[k] + fac * denoised2[k];
      next[k] = a2 * x[k] - b2 * dBlend + noise2[k] * step2.sigmaUp;
    }
    return next;
  });
};
