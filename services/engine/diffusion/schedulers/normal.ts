/**
 * Timestep-uniform schedules, ComfyUI `normal_scheduler`: timesteps spaced
 * evenly (float32 linspace) from timestep(σmax) to timestep(σmin), each
 * mapped through the model's σ(t). `normal` includes the last timestep;
 * `sgm_uniform` (Stability's sgm discretisation, `sgm=True`) spaces n + 1
 * points and drops the last, so it never reaches σmin. Both end in 0.
 *
 * With the distilled LCM/TCD sampling this runs on that model's own
 * timestep and σ(t) (999 → 19), which is how Fooocus' `lcm`/`tcd` schedulers work.
 */
import type { ModelSampling } from '../types.ts';
import { torchLinspace } from '../torchLinspace.ts';

function timestepSigmas(ms: ModelSampling, count: number, n: number): Float64Array {
  const start = ms.timestep(ms.sigmaMax);
  const end = ms.timestep(ms.sigmaMin);
  const timesteps = torchLinspace(start, end, count, 'float32');
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = ms.sigma(timesteps[i]);
  return out;
}

/** ComfyUI "normal": σ(t) for t = linspace(t(σmax), t(σmin), n), plus a trailing 0. */
export function normalSigmas(ms: ModelSampling, n: number): Float64Array {
  return timestepSigmas(ms, n, n);
}

/** ComfyUI "sgm_uniform": σ(t) for t = linspace(t(σmax), t(σmin), n + 1)[:-1], plus a trailing 0. */
export function sgmUniformSigmas(ms: ModelSampling, n: number): Float64Array {
  return timestepSigmas(ms, n + 1, n);
}
