/**
 * Fooocus' guidance step (`modules/patch.py` `patched_sampling_function` +
 * `compute_cfg`), which replaces ComfyUI's plain CFG in every Fooocus run:
 *
 * 1. Sharpness: the positive eps (σ-scaled, x − x0_pos) is blended with its
 *    anisotropic-filtered version guided by x0_pos,
 *    eps' = α·AF(eps_pos, x0_pos) + (1 − α)·eps_pos, α = 0.001·sharpness·p.
 * 2. CFG on eps: real = eps_neg + cfg·(eps' − eps_neg).
 * 3. "CFG mimicking from TSNR": when cfg > adaptive_cfg, the result is blended
 *    towards the same combination at adaptive_cfg as the run progresses:
 *    final = p·real + (1 − p)·(eps_neg + adaptive_cfg·(eps' − eps_neg)).
 * 4. denoised = x − final.
 *
 * p = 1 − t/999 is the diffusion progress Fooocus' patched UNet forward
 * stores from the batch's first timestep, in float32 (golden `fooocus_cfg`:
 * t = 687 gives p = 0.3123123049736023). At cfg = 1 (math.isclose) Fooocus
 * skips the negative pass and returns x0_pos untouched: no sharpness either.
 */
import type { Latent } from '../types.ts';
import { adaptiveAnisotropicFilter, type Nchw } from './anisotropicFilter.ts';
import { needsUncond } from './cfg.ts';

export interface FooocusGuidanceInput {
  /** The sampler state the UNet was evaluated at (NCHW). */
  x: ArrayLike<number>;
  shape: Nchw;
  /** UNet timestep of this evaluation (quantised, or fractional for EDM). */
  timestep: number;
  /** Conditional denoised estimate. */
  posX0: ArrayLike<number>;
  /** Unconditional denoised estimate; may be null when cfg is 1. */
  negX0: ArrayLike<number> | null;
  cfg: number;
  /** Fooocus "Sharpness", default 2. */
  sharpness: number;
  /** Fooocus "CFG Mimicking from TSNR" (adaptive_cfg), default 7. */
  adaptiveCfg: number;
}

/** p = 1 − t/999 in float32, as the patched UNet forward computes it. */
export function diffusionProgress(timestep: number): number {
  return Math.fround(1 - Math.fround(Math.fround(timestep) / 999));
}

export function fooocusGuidance(input: FooocusGuidanceInput): Latent {
  const { x, shape, posX0, negX0, cfg, sharpness, adaptiveCfg } = input;
  const n = x.length;
  if (posX0.length !== n) throw new RangeError(`fooocusGuidance: x has ${n} values, posX0 ${posX0.length}`);
  const out = new Float64Array(n);
  if (!needsUncond(cfg)) {
    for (let i = 0; i < n; i++) out[i] = posX0[i];
    return out;
  }
  if (!negX0 || negX0.length !== n) throw new RangeError(`fooocusGuidance: cfg ${cfg} needs negX0 with ${n} values`);

  const p = diffusionProgress(input.timestep);
  const alpha = 0.001 * sharpness * p;
  const posEps = new Float64Array(n);
  for (let i = 0; i < n; i++) posEps[i] = x[i] - posX0[i];
  // The filter only matters when it is weighted in; sharpness 0 skips its cost.
  const filtered = alpha !== 0 ? adaptiveAnisotropicFilter(posEps, posX0, shape) : posEps;
  const mimic = cfg > adaptiveCfg;
  for (let i = 0; i < n; i++) {
    const negEps = x[i] - negX0[i];
    const pos = filtered[i] * alpha + posEps[i] * (1 - alpha);
    const real = negEps + cfg * (pos - negEps);
    const final = mimic ? real * p + (negEps + adaptiveCfg * (pos - negEps)) * (1 - p) : real;
    out[i] = x[i] - final;
  }
  return out;
}
