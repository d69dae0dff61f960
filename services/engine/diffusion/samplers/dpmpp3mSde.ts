/**
 * DPM++(3M) SDE (k-diffusion `sample_dpmpp_3m_sde`, eta = 1, s_noise = 1);
 * `dpmpp_3m_sde_gpu` is the same function with the same noise. Third-order
 * multistep in t = −ln σ with h_η = 2h:
 *   x ← e^{−h_η}·x − expm1(−h_η)·D
 *   then φ₂ = expm1(−h_η)/h_η + 1 times the first divided difference (2nd step)
 *   or φ₂·d1 − φ₃·d2 with φ₃ = φ₂/h_η − ½ (from the 3rd step on),
 *   x += noise(σ_i, σ_{i+1})·σ_{i+1}·sqrt(−expm1(−2h)).
 * The step into 0 returns D.
 */
import type { Latent, SamplerFn } from '../types.ts';
import { requireNoise, runSteps } from './stepProtocol.ts';

const ETA = 1;
const S_NOISE = 1;

export const sampleDpmpp3mSde: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'dpmpp_3m_sde');
  let denoised1: Latent | null = null;
  let denoised2: Latent | null = null;
  let h: number | null = null;
  let h1: number | null = null;
  let h2: number | null = null;
  return runSteps(denoise, xInit, sigmas, opts, ({ x, denoised, sigma, sigmaNext }) => {
    let next: Latent;
    if (sigmaNext === 0) {
      next = denoised;
    } else {
      h = Math.log(sigma) - Math.log(sigmaNext);
      const hEta = h * (ETA + 1);
      const a = Math.exp(-hEta);
      const b = -Math.expm1(-hEta);
      const n = x.length;
      next = new Float64Array(n);
      for (let k = 0; k < n; k++) next[k] = a * x[k] + b * denoised[k];
      if (h2 !== null && denoised1 !== null && denoised2 !== null && h1 !== null) {
        const r0 = h1 / h;
        const r1 = h2 / h;
        const phi2 = Math.expm1(-hEta) / hEta + 1;
        const phi3 = phi2 / hEta - 0.5;
        for (let k = 0; k < n; k++) {
          const d10 = (denoised[k] - denoised1[k]) / r0;
          const d11 = (denoised1[k] - denoised2[k]) / r1;
          const d1 = d10 + ((d10 - d11) * r0) / (r0 + r1);
          const d2 = (d10 - d11) / (r0 + r1);
          next[k] += phi2 * d1 - phi3 * d2;
        }
      } else if (h1 !== null && denoised1 !== null) {
        const r = h1 / h;
        const phi2 = Math.expm1(-hEta) / hEta + 1;
        for (let k = 0; k < n; k++) next[k] += phi2 * ((denoised[k] - denoised1[k]) / r);
      }
      const eps = noise(sigma, sigmaNext);
      const cn = sigmaNext * Math.sqrt(-Math.expm1(-2 * h * ETA)) * S_NOISE;
      for (let k = 0; k < n; k++) next[k] += eps[k] * cn;
    }
    denoised2 = denoised1;
    denoised1 = denoised;
    h2 = h1;
    h1 = h;
    return next;
  });
};
