/**
 * The single-step DPM-Solver updates (Lu et al. 2022, eps form, in
 * t = −ln σ) that k-diffusion's `DPMSolver` class builds dpm_fast and
 * dpm_adaptive from. Kept apart from both because they share it exactly,
 * including the per-step eps cache: within one step the eps at t and at
 * t + r1·h are evaluated once and reused by the order-2 and order-3 formulas
 * (dpm_adaptive's 3 evaluations per attempt depend on that).
 */
import type { Denoiser, Latent } from '../types.ts';

export const sigmaOfT = (t: number): number => Math.exp(-t);
export const tOfSigma = (sigma: number): number => -Math.log(sigma);

/** The sigma range KSampler hands to dpm_fast / dpm_adaptive. */
export function dpmSigmaRange(sigmas: Float64Array): { sigmaMin: number; sigmaMax: number } {
  let sigmaMin = sigmas[sigmas.length - 1];
  if (sigmaMin === 0) sigmaMin = sigmas[sigmas.length - 2];
  const sigmaMax = sigmas[0];
  if (!(sigmaMin > 0) || !(sigmaMax > 0)) throw new Error('dpm_fast/dpm_adaptive: sigma_min and sigma_max must not be 0');
  return { sigmaMin, sigmaMax };
}

/** eps values of one step, keyed like the reference ('eps', 'eps_r1', 'eps_r2'). */
export type EpsCache = Map<string, Latent>;

export class DpmSolverSteps {
  constructor(private readonly denoise: Denoiser) {}

  async eps(cache: EpsCache, key: string, x: Latent, t: number): Promise<Latent> {
    const cached = cache.get(key);
    if (cached) return cached;
    const sigma = sigmaOfT(t);
    const denoised = await this.denoise(x, sigma);
    const e = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) e[k] = (x[k] - denoised[k]) / sigma;
    cache.set(key, e);
    return e;
  }

  async step1(x: Latent, t: number, tNext: number, cache: EpsCache): Promise<Latent> {
    const h = tNext - t;
    const eps = await this.eps(cache, 'eps', x, t);
    const c = sigmaOfT(tNext) * Math.expm1(h);
    const out = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k] - c * eps[k];
    return out;
  }

  async step2(x: Latent, t: number, tNext: number, cache: EpsCache, r1 = 1 / 2): Promise<Latent> {
    const h = tNext - t;
    const eps = await this.eps(cache, 'eps', x, t);
    const s1 = t + r1 * h;
    const cu = sigmaOfT(s1) * Math.expm1(r1 * h);
    const u1 = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) u1[k] = x[k] - cu * eps[k];
    const epsR1 = await this.eps(cache, 'eps_r1', u1, s1);
    const sNext = sigmaOfT(tNext);
    const c0 = sNext * Math.expm1(h);
    const c1 = (sNext / (2 * r1)) * Math.expm1(h);
    const out = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k] - c0 * eps[k] - c1 * (epsR1[k] - eps[k]);
    return out;
  }

  async step3(x: Latent, t: number, tNext: number, cache: EpsCache, r1 = 1 / 3, r2 = 2 / 3): Promise<Latent> {
    const h = tNext - t;
    const eps = await this.eps(cache, 'eps', x, t);
    const s1 = t + r1 * h;
    const s2 = t + r2 * h;
    const cu1 = sigmaOfT(s1) * Math.expm1(r1 * h);
    const u1 = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) u1[k] = x[k] - cu1 * eps[k];
    const epsR1 = await this.eps(cache, 'eps_r1', u1, s1);
    const sigmaS2 = sigmaOfT(s2);
    const cu2a = sigmaS2 * Math.expm1(r2 * h);
    const cu2b = sigmaS2 * (r2 / r1) * (Math.expm1(r2 * h) / (r2 * h) - 1);
    const u2 = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) u2[k] = x[k] - cu2a * eps[k] - cu2b * (epsR1[k] - eps[k]);
    const epsR2 = await this.eps(cache, 'eps_r2', u2, s2);
    const sNext = sigmaOfT(tNext);
    const c0 = sNext * Math.expm1(h);
    const c2 = (sNext / r2) * (Math.expm1(h) / h - 1);
    const out = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k] - c0 * eps[k] - c2 * (epsR2[k] - eps[k]);
    return out;
  }
}
