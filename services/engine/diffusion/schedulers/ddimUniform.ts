/**
 * ComfyUI "ddim_uniform": table entries 1, 1 + s, 1 + 2s, … (s = len // n,
 * DDIM's uniform timestep skip) in reverse order, then 0. The count is
 * ceil((len − 1)/s), which exceeds n when s does not divide evenly (30 steps:
 * s = 33 gives 31 sigmas); the caller's last-step cut trims it (Fooocus
 * samples with last_step = steps and force_full_denoise). Note it starts at
 * σ(1 + (count − 1)·s), below σmax, so its initial noise is scaled by σ0.
 */
import type { ModelSampling } from '../types.ts';

export function ddimUniformSigmas(ms: ModelSampling, n: number): Float64Array {
  const table = ms.sigmas;
  const stride = Math.floor(table.length / n);
  const picked: number[] = [];
  for (let x = 1; x < table.length; x += stride) picked.push(table[x]);
  picked.reverse();
  picked.push(0);
  return Float64Array.from(picked);
}
