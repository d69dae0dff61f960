/**
 * One Euler step of the probability-flow ODE from σ to σ_to with the slope
 * d = (x − D)/σ: x + d·(σ_to − σ). Euler itself, Euler ancestral (to σ_down),
 * and the step into 0 that DPM-2, DPM-2 ancestral, DPM++(2S) ancestral and
 * DPM++ SDE fall back to, because their midpoint is undefined there.
 */
import type { Latent } from '../types.ts';

export function eulerStep(x: Latent, denoised: Latent, sigma: number, sigmaTo: number): Latent {
  const dt = sigmaTo - sigma;
  const next = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) next[k] = x[k] + ((x[k] - denoised[k]) / sigma) * dt;
  return next;
}
