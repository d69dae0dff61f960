/**
 * Adaptive DPM-Solver-23 (k-diffusion `sample_dpm_adaptive` with its
 * defaults: order 3, rtol 0.05, atol 0.0078, h_init 0.05, PID (0, 1, 0),
 * accept_safety 0.81, eta 0) over the sigma range KSampler passes (σ_max =
 * sigmas[0], σ_min = the last nonzero sigma; the interior of the schedule is
 * ignored).
 *
 * Every attempt evaluates at s, s + h/3 and s + 2h/3 (3 evaluations, nothing
 * cached across attempts), compares the order-2 (r1 = 1/3) and order-3
 * solutions and lets the PID controller accept or shrink the step. The step
 * count therefore depends on the data; the golden run takes 23 attempts.
 *
 * Progress: the reference fires its callback after every attempt, with the
 * state after it. How many attempts remain is unknown, so `total` is an
 * estimate (attempts so far + remaining t-distance / current h), never less
 * than i + 1; it reaches i + 1 on the last attempt.
 *
 * At eta = 0 the reference draws a noise tensor per accepted step and scales
 * it by 0; that draw is left out.
 */
import type { SamplerFn } from '../types.ts';
import { DpmSolverSteps, dpmSigmaRange, sigmaOfT, tOfSigma, type EpsCache } from './dpmSolverSteps.ts';
import { reportStep, throwIfAborted } from './stepProtocol.ts';

const ORDER = 3;
const RTOL = 0.05;
const ATOL = 0.0078;
const H_INIT = 0.05;
const PCOEFF = 0;
const ICOEFF = 1;
const DCOEFF = 0;
const ACCEPT_SAFETY = 0.81;

/** k-diffusion's PIDStepSizeController, with its atan limiter. */
class PidStepSizeController {
  h: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly b3: number;
  private errs: number[] = [];

  constructor(h: number, pcoeff: number, icoeff: number, dcoeff: number, order: number, private readonly acceptSafety: number, private readonly eps = 1e-8) {
    this.h = h;
    this.b1 = (pcoeff + icoeff + dcoeff) / order;
    this.b2 = -(pcoeff + 2 * dcoeff) / order;
    this.b3 = dcoeff / order;
  }

  /** Updates h for the error of the attempt just made; true when it is accepted. */
  proposeStep(error: number): boolean {
    const invError = 1 / (error + this.eps);
    if (this.errs.length === 0) this.errs = [invError, invError, invError];
    this.errs[0] = invError;
    let factor = this.errs[0] ** this.b1 * this.errs[1] ** this.b2 * this.errs[2] ** this.b3;
    factor = 1 + Math.atan(factor - 1);
    const accept = factor >= this.acceptSafety;
    if (accept) {
      this.errs[2] = this.errs[1];
      this.errs[1] = this.errs[0];
    }
    this.h *= factor;
    return accept;
  }
}

export const sampleDpmAdaptive: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  if (sigmas.length < 2) return xInit;
  const { sigmaMin, sigmaMax } = dpmSigmaRange(sigmas);
  const tStart = tOfSigma(sigmaMax);
  const tEnd = tOfSigma(sigmaMin);
  const solver = new DpmSolverSteps(denoise);
  const pid = new PidStepSizeController(H_INIT, PCOEFF, ICOEFF, DCOEFF, ORDER, ACCEPT_SAFETY);
  const n = xInit.length;
  let s = tStart;
  let x = xInit;
  let xPrev = xInit;
  let attempt = 0;
  // Sigmas decrease, so t = −ln σ increases: the forward branch of the reference.
  while (s < tEnd - 1e-5) {
    throwIfAborted(opts);
    const cache: EpsCache = new Map();
    const t = Math.min(tEnd, s + pid.h);
    const eps = await solver.eps(cache, 'eps', x, s);
    const sigmaS = sigmaOfT(s);
    const denoised = new Float64Array(n);
    for (let k = 0; k < n; k++) denoised[k] = x[k] - sigmaS * eps[k];

    const xLow = await solver.step2(x, s, t, cache, 1 / 3);
    const xHigh = await solver.step3(x, s, t, cache);
    let sumSq = 0;
    for (let k = 0; k < n; k++) {
      const delta = Math.max(ATOL, RTOL * Math.max(Math.abs(xLow[k]), Math.abs(xPrev[k])));
      const r = (xLow[k] - xHigh[k]) / delta;
      sumSq += r * r;
    }
    const error = Math.sqrt(sumSq) / Math.sqrt(n);
    if (pid.proposeStep(error)) {
      xPrev = xLow;
      x = xHigh;
      s = t;
    }
    const i = attempt++;
    const remaining = s < tEnd - 1e-5 ? Math.max(1, Math.ceil((tEnd - s) / pid.h)) : 0;
    await reportStep(opts, { i, total: i + 1 + remaining, x, denoised, sigma: sigmaOfT(s) });
  }
  return x;
};
