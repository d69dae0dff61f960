/**
 * Exponential schedule, k-diffusion `get_sigmas_exponential`: σ uniform in
 * log space, exp(linspace(ln σmax, ln σmin, n)) in float32, then a final 0.
 */
import { torchLinspace } from '../torchLinspace.ts';

const f32 = Math.fround;

/** `n` log-uniform sigmas from `sigmaMax` down to `sigmaMin`, plus a trailing 0 (length n + 1). */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  const logs = torchLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n, 'float32');
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = f32(Math.exp(logs[i]));
  return out;
}
