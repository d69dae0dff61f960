/**
 * Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0, the only setting
 * Fooocus uses): x ← x + (x − D)/σ_i · (σ_{i+1} − σ_i).
 *
 * Also what Fooocus runs for `ddim` (KSampler maps it to `sample_euler`; the
 * golden `ddim` run equals `euler` bit for bit) and for any unknown sampler
 * name. The churn branch is left out on purpose: with s_churn = 0 its gamma is
 * always 0 and it draws no noise.
 */
import type { SamplerFn } from '../types.ts';
import { eulerStep } from './eulerStep.ts';
import { runSteps } from './stepProtocol.ts';

export const sampleEuler: SamplerFn = (denoise, xInit, sigmas, opts) =>
  runSteps(denoise, xInit, sigmas, opts, ({ x, denoised, sigma, sigmaNext }) => eulerStep(x, denoised, sigma, sigmaNext));
