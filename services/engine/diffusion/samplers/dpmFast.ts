/**
 * DPM-Solver-fast (k-diffusion `sample_dpm_fast`, eta = 0) as ComfyUI's
 * KSampler calls it: from σ_max = sigmas[0] to σ_min = the last nonzero sigma
 * with n = sigmas.length − 1 evaluations. Only the two ends of the schedule
 * matter: the solver lays its own grid, uniform in t = −ln σ, over
 * floor(n/3) + 1 segments with orders [3, …, 3, n mod 3] (or […, 3, 2, 1]
 * when 3 divides n). The golden `solver_steps` record lists them.
 *
 * At eta = 0 the reference still calls its noise sampler once per step and
 * multiplies the draw by 0; that call is left out (it cannot change x).
 */
import { torchLinspace } from '../torchLinspace.ts';
import type { SamplerFn } from '../types.ts';
import { DpmSolverSteps, dpmSigmaRange, sigmaOfT, tOfSigma, type EpsCache } from './dpmSolverSteps.ts';
import { reportStep, throwIfAborted } from './stepProtocol.ts';

export interface DpmFastPlan {
  /** Grid in t = −ln σ, one entry more than `orders`. */
  ts: Float64Array;
  orders: number[];
}

/** The solver's own grid and per-step orders for nfe evaluations between two t. */
export function dpmFastPlan(tStart: number, tEnd: number, nfe: number): DpmFastPlan {
  const m = Math.floor(nfe / 3) + 1;
  const ts = torchLinspace(tStart, tEnd, m + 1, 'float64');
  const orders = nfe % 3 === 0
    ? [...Array<number>(m - 2).fill(3), 2, 1]
    : [...Array<number>(m - 1).fill(3), nfe % 3];
  return { ts, orders };
}

export const sampleDpmFast: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  if (sigmas.length < 2) return xInit;
  const { sigmaMin, sigmaMax } = dpmSigmaRange(sigmas);
  const { ts, orders } = dpmFastPlan(tOfSigma(sigmaMax), tOfSigma(sigmaMin), sigmas.length - 1);
  const solver = new DpmSolverSteps(denoise);
  const total = orders.length;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const t = ts[i];
    const tNext = ts[i + 1];
    const cache: EpsCache = new Map();
    const eps = await solver.eps(cache, 'eps', x, t);
    const sigma = sigmaOfT(t);
    const denoised = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) denoised[k] = x[k] - sigma * eps[k];
    await reportStep(opts, { i, total, x, denoised, sigma });
    if (orders[i] === 1) x = await solver.step1(x, t, tNext, cache);
    else if (orders[i] === 2) x = await solver.step2(x, t, tNext, cache);
    else x = await solver.step3(x, t, tNext, cache);
  }
  return x;
};
