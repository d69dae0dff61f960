/**
 * Plain classifier-free guidance as ComfyUI combines it, on the denoised
 * (x0) estimates: D = D_uncond + (D_cond − D_uncond)·cfg. At cfg = 1
 * (math.isclose) ComfyUI and Fooocus skip the unconditional UNet pass
 * altogether and return the conditional estimate, so callers ask
 * `needsUncond` before spending a UNet evaluation on it.
 */
import type { Latent } from '../types.ts';

/** Python math.isclose defaults (rel_tol 1e-9, abs_tol 0). */
function isCloseToOne(cfg: number): boolean {
  return Math.abs(cfg - 1) <= 1e-9 * Math.max(Math.abs(cfg), 1);
}

/** Whether this guidance scale needs the unconditional evaluation at all. */
export function needsUncond(cfg: number): boolean {
  return !isCloseToOne(cfg);
}

/**
 * Guided denoised estimate. `uncond` may be null only when `needsUncond(cfg)`
 * is false; the conditional estimate is then returned as a copy.
 */
export function cfgDenoised(cond: ArrayLike<number>, uncond: ArrayLike<number> | null, cfg: number): Latent {
  const out = new Float64Array(cond.length);
  if (!needsUncond(cfg)) {
    for (let i = 0; i < cond.length; i++) out[i] = cond[i];
    return out;
  }
  if (!uncond) throw new Error(`cfgDenoised: cfg ${cfg} needs the unconditional estimate`);
  if (uncond.length !== cond.length) throw new RangeError(`cfgDenoised: cond has ${cond.length} values, uncond ${uncond.length}`);
  for (let i = 0; i < cond.length; i++) out[i] = uncond[i] + (cond[i] - uncond[i]) * cfg;
  return out;
}
