/**
 * Karras et al. (2022) schedule, k-diffusion `get_sigmas_karras` as ComfyUI
 * and Fooocus call it: σ_i = (σmax^(1/ρ) + r_i·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ,
 * r = linspace(0, 1, n), ρ = 7, then a final 0.
 *
 * Computed as torch does: the two roots are float64 Python scalars, the ramp
 * and everything after it float32 (scalars are cast to the tensor's float32
 * when combined with it). The float32 round trip (σ^(1/7))^7 is why the first
 * value is 14.614643 rather than the table's 14.614641.
 */
import { torchLinspace } from '../torchLinspace.ts';

const f32 = Math.fround;

/** `n` Karras sigmas from `sigmaMax` down to `sigmaMin`, plus a trailing 0 (length n + 1); `rho` defaults to 7. */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const ramp = torchLinspace(0, 1, n, 'float32');
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  const span = f32(minInvRho - maxInvRho);
  const start = f32(maxInvRho);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = f32(f32(start + f32(ramp[i] * span)) ** f32(rho));
  return out;
}
