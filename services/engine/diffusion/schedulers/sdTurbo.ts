/**
 * SD-Turbo schedule (ComfyUI `SDTurboScheduler`): σ(t) at t = 999, 899, …, 99
 * starting at 10 − int(10·denoise), at most `steps` of them, then 0.
 *
 * Fooocus computes it only for its "[Sampler] sigma_min/max" log line and the
 * Brownian-tree range; its sampler core does not know the name and samples
 * `turbo` with the `normal` schedule (golden README §2.10).
 */
import type { ModelSampling } from '../types.ts';

const TURBO_TIMESTEPS = [999, 899, 799, 699, 599, 499, 399, 299, 199, 99];

/** `denoise` (default 1) skips the first 10 − int(10·denoise) timesteps, as ComfyUI's node does. */
export function sdTurboSigmas(ms: ModelSampling, steps: number, denoise = 1): Float64Array {
  const startStep = 10 - Math.trunc(10 * denoise);
  const timesteps = TURBO_TIMESTEPS.slice(startStep, startStep + steps);
  const out = new Float64Array(timesteps.length + 1);
  timesteps.forEach((t, i) => {
    out[i] = ms.sigma(t);
  });
  return out;
}
