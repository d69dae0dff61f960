/**
 * DPM++(2M) SDE (k-diffusion `sample_dpmpp_2m_sde`, eta = 1, s_noise = 1,
 * solver_type 'midpoint'): Fooocus' default sampler, run under both
 * `dpmpp_2m_sde` and `dpmpp_2m_sde_gpu` (same function, same global Brownian
 * tree). With h = ln σ_i − ln σ_{i+1}:
 *   x ← (σ_{i+1}/σ_i)·e^{−h}·x − expm1(−2h)·D
 *   x += ½·(−expm1(−2h))·(h/h_{i−1})·(D − D_{i−1})      (from the second step)
 *   x += noise(σ_i, σ_{i+1})·σ_{i+1}·sqrt(−expm1(−2h))
 * and the step into 0 returns D. Consecutive intervals never overlap, so an
 * i.i.d. source has the right distribution; Fooocus' own is a Brownian tree.
 */
import type { Latent, SamplerFn } from '../types.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

const ETA = 1;
const S_NOISE = 1;

export const sampleDpmpp2mSde: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'dpmpp_2m_sde');
  let oldDenoised: Latent | null = null;
  let h = NaN;
  let hLast = NaN;
  return runSteps(denoise, xInit, sigmas, opts, ({ x, denoised, sigma, sigmaNext }) => {
    let next: Latent;
    if (sigmaNext === 0) {
      next = denoised;
    } else {
      h = Math.log(sigma) - Math.log(sigmaNext);
      const etaH = ETA * h;
      const a = (sigmaNext / sigma) * Math.exp(-etaH);
      const b = -Math.expm1(-h - etaH);
      const n = x.length;
      next = new Float64Array(n);
      for (let k = 0; k < n; k++) next[k] = a * x[k] + b * denoised[k];
      if (oldDenoised !== null) {
        const r = hLast / h;
        const c = 0.5 * b * (1 / r);
        for (let k = 0; k < n; k++) next[k] += c * (denoised[k] - oldDenoised[k]);
      }
      const eps = noise(sigma, sigmaNext);
      const cn = sigmaNext * Math.sqrt(-Math.expm1(-2 * etaH)) * S_NOISE;
      for (let k = 0; k < n; k++) next[k] += eps[k] * cn;
    }
    oldDenoised = denoised;
    hLast = h;
    return next;
  });
};
