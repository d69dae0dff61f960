/**
 * Linear multistep (k-diffusion `sample_lms`, order 4): x ← x + Σ_j c_j·d_{i−j},
 * where c_j integrates the Lagrange basis polynomial through the last
 * min(i+1, 4) sigmas over [σ_i, σ_{i+1}] (in σ, not log σ).
 *
 * The reference integrates with scipy `quad` (epsrel 1e-4). The integrand is
 * a polynomial of degree ≤ 3, so a 4-point Gauss–Legendre rule (exact to
 * degree 7) gives the same coefficients to float64 rounding with no adaptive
 * loop; the golden `lms_coeffs` record checks them.
 */
import type { Latent, SamplerFn } from '../types.ts';
import { runSteps } from './stepProtocol.ts';

const LMS_ORDER = 4;

// 4-point Gauss–Legendre nodes and weights on [-1, 1].
const GL_NODES = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GL_WEIGHTS = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

/**
 * Coefficient of d_{i−j} for a step of the given order at index i:
 * ∫_{σ_i}^{σ_{i+1}} Π_{k≠j} (τ − σ_{i−k}) / (σ_{i−j} − σ_{i−k}) dτ.
 */
export function lmsCoefficient(order: number, sigmas: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i) throw new Error(`lms: order ${order} too high for step ${i}`);
  const a = sigmas[i];
  const b = sigmas[i + 1];
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let integral = 0;
  for (let q = 0; q < GL_NODES.length; q++) {
    const tau = mid + half * GL_NODES[q];
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === j) continue;
      prod *= (tau - sigmas[i - k]) / (sigmas[i - j] - sigmas[i - k]);
    }
    integral += GL_WEIGHTS[q] * prod;
  }
  return integral * half;
}

export const sampleLms: SamplerFn = (denoise, xInit, sigmas, opts) => {
  const ds: Latent[] = [];
  return runSteps(denoise, xInit, sigmas, opts, ({ i, x, denoised, sigma }) => {
    const d = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) d[k] = (x[k] - denoised[k]) / sigma;
    ds.push(d);
    if (ds.length > LMS_ORDER) ds.shift();
    const order = Math.min(i + 1, LMS_ORDER);
    const next = Float64Array.from(x);
    for (let j = 0; j < order; j++) {
      const c = lmsCoefficient(order, sigmas, i, j);
      const dj = ds[ds.length - 1 - j];
      for (let k = 0; k < next.length; k++) next[k] += c * dj[k];
    }
    return next;
  });
};
