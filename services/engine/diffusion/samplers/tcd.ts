/**
 * TCD (Trajectory Consistency Distillation) sampling, ComfyUI `sample_tcd`
 * with eta (gamma) 0.3, the default Fooocus runs.
 *
 * Each step predicts x0 = D, moves it to an intermediate timestep
 * s_{i+1} = floor(0.7·t(σ_{i+1})) on the model's 1000-step DDPM table
 * (D' = sqrt(ᾱ_s)·D + sqrt(1−ᾱ_s)·ε, ε = (x − D)/σ_i), and re-noises from
 * there to σ_{i+1}: x = D'/sqrt(ᾱ_s) + noise(σ_i, σ_{i+1})·sqrt(σ_{i+1}² + 1 − 1/ᾱ_s).
 * The last s is 0 and the step into 0 only rescales. The callback reports D'
 * as `denoised`, as the reference does.
 *
 * Float32 details kept on purpose, because s is an integer index: the
 * product 0.7·t is formed in float32 before the floor, as torch does with a
 * float32 timestep tensor (golden `tcd_timesteps_s`).
 *
 * Deviation: the re-noise variance σ² + 1 − 1/ᾱ_s is 0 up to rounding when
 * s = 0 and σ = σ_min of the table (a karras schedule ending at σ_min);
 * Fooocus takes sqrt of a tiny negative float32 there and produces NaN
 * (golden README §2.10). It is clamped at 0 here.
 */
import type { ModelSampling, SamplerFn } from '../types.ts';
import { reportStep, requireNoise, throwIfAborted } from './stepProtocol.ts';

const ETA = 0.3;

export interface TcdSchedule {
  /** s_i = floor((1 − eta)·t(σ_i)), the last one 0. */
  timestepsS: Int32Array;
  /** ᾱ at each s_i, from the model's alphas_cumprod. */
  alphaProdS: Float64Array;
}

export function tcdSchedule(model: ModelSampling, sigmas: Float64Array, eta = ETA): TcdSchedule {
  const n = sigmas.length;
  const timestepsS = new Int32Array(n);
  const alphaProdS = new Float64Array(n);
  const factor = Math.fround(1 - eta);
  for (let i = 0; i < n; i++) {
    // The last entry is forced to 0 by the reference; t(0) is never needed.
    const s = i === n - 1 ? 0 : Math.floor(Math.fround(factor * Math.fround(model.timestep(sigmas[i]))));
    timestepsS[i] = s;
    alphaProdS[i] = model.alphasCumprod[s];
  }
  return { timestepsS, alphaProdS };
}

export const sampleTcd: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'tcd');
  const { alphaProdS } = tcdSchedule(opts.model, sigmas);
  const total = sigmas.length - 1;
  let x = xInit;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const predicted = await denoise(x, sigma);
    const alphaS = alphaProdS[i + 1];
    const sqrtAlpha = Math.sqrt(alphaS);
    const sqrtBeta = Math.sqrt(1 - alphaS);
    const n = x.length;
    const denoised = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const eps = (x[k] - predicted[k]) / sigma;
      denoised[k] = sqrtAlpha * predicted[k] + sqrtBeta * eps;
    }
    await reportStep(opts, { i, total, x, denoised, sigma });
    const next = new Float64Array(n);
    if (sigmaNext > 0) {
      const z = noise(sigma, sigmaNext);
      const noiseStd = Math.sqrt(Math.max(0, sigmaNext * sigmaNext + 1 - 1 / alphaS));
      for (let k = 0; k < n; k++) next[k] = denoised[k] / sqrtAlpha + z[k] * noiseStd;
    } else {
      const scale = Math.sqrt(1 + sigmaNext * sigmaNext);
      for (let k = 0; k < n; k++) next[k] = denoised[k] * scale;
    }
    x = next;
  }
  return x;
};
