/**
 * Brownian noise for the SDE samplers (dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde
 * and their `_gpu` names). They ask for the increment of one Brownian motion
 * W(σ) over (σ, σ'), normalised: `(W(σ') − W(σ)) / sqrt(|σ' − σ|)` (Fooocus'
 * `BrownianTreeNoiseSamplerPatched` sign and scaling). dpmpp_sde asks twice per
 * step over overlapping intervals, (σ_i, σ_mid) then (σ_i, σ_{i+1}), so the two
 * answers must be correlated as a real path's are; i.i.d. draws per call are
 * wrong there (golden README §3: 0.11 relative on x_final).
 *
 * Fooocus samples the path from torchsde's Brownian tree, whose values cannot
 * be reproduced outside torchsde. Instead the path is built explicitly from a
 * stream of standard-normal draws (golden README §2.10 "Brownian-tree
 * samplers"), which is what the golden replay records:
 *  - W = 0 at the first σ ever queried;
 *  - a new point q below every known point gets W(q) = W(q_prev) +
 *    sqrt(q_prev − q)·z, q_prev the lowest known point, z the next draw;
 *  - a new point above every known point gets W(q) = W(top) + sqrt(q − top)·z
 *    (independent increment; samplers never ask for one, but a path has it);
 *  - a new point strictly between known neighbours a > q > b is drawn from the
 *    Brownian bridge: W(q) = W(a) + (a − q)/(a − b)·(W(b) − W(a)) +
 *    sqrt((a − q)(q − b)/(a − b))·z, the exact conditional law given the path
 *    so far (so every answer stays consistent with earlier ones).
 * Points of a query are resolved σ first, then σ'; each new point costs one
 * draw, in that order. For the monotonically decreasing queries the samplers
 * make, this reduces to the README construction draw for draw (2M/3M SDE:
 * answer k is draw k exactly). A query point within 1e-12 relative of a known
 * point is that point: samplers recompute σ as exp(−(−ln σ)), which can move
 * it by an ulp, and a near-empty bridge must not consume a draw.
 */
import type { Latent, NoiseSampler } from './types.ts';

/** Relative distance under which a queried σ is taken to be an already known point. */
const SAME_POINT_RELATIVE = 1e-12;

export interface BrownianNoiseOptions {
  /** Next standard-normal draw of the latent's size (every call the same length). */
  draw: () => Float64Array;
}

interface PathPoint {
  sigma: number;
  /** W(sigma); null is the zero vector at the anchor, whose size is not known before the first draw. */
  w: Float64Array | null;
}

export function createBrownianNoise({ draw }: BrownianNoiseOptions): NoiseSampler {
  /** Known points, descending in σ. */
  const path: PathPoint[] = [];
  let size: number | undefined;

  const nextDraw = (): Float64Array => {
    const z = draw();
    if (size === undefined) size = z.length;
    else if (z.length !== size) throw new RangeError(`Brownian noise: draw of ${z.length} values, expected ${size}`);
    return z;
  };

  /** W(base) + scale·z, or a·W(from) + ... for the bridge; null counts as zero. */
  const combine = (terms: [number, Float64Array | null][]): Float64Array => {
    let out: Float64Array | undefined;
    for (const [coef, v] of terms) {
      if (v === null || coef === 0) continue;
      out ??= new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] += coef * v[i];
    }
    return out ?? new Float64Array(size ?? 0);
  };

  const known = (sigma: number): PathPoint | undefined =>
    path.find((p) => Math.abs(p.sigma - sigma) <= SAME_POINT_RELATIVE * Math.max(Math.abs(p.sigma), Math.abs(sigma)));

  const valueAt = (sigma: number): Float64Array | null => {
    const hit = known(sigma);
    if (hit) return hit.w;
    let w: Float64Array | null;
    let at: number;
    if (path.length === 0) {
      w = null;
      at = 0;
    } else if (sigma < path[path.length - 1].sigma) {
      const low = path[path.length - 1];
      w = combine([[1, low.w], [Math.sqrt(low.sigma - sigma), nextDraw()]]);
      at = path.length;
    } else if (sigma > path[0].sigma) {
      const top = path[0];
      w = combine([[1, top.w], [Math.sqrt(sigma - top.sigma), nextDraw()]]);
      at = 0;
    } else {
      at = path.findIndex((p) => p.sigma < sigma);
      const a = path[at - 1];
      const b = path[at];
      const span = a.sigma - b.sigma;
      const frac = (a.sigma - sigma) / span;
      const std = Math.sqrt(((a.sigma - sigma) * (sigma - b.sigma)) / span);
      w = combine([[1 - frac, a.w], [frac, b.w], [std, nextDraw()]]);
    }
    path.splice(at, 0, { sigma, w });
    return w;
  };

  return (sigma: number, sigmaNext: number): Latent => {
    if (!Number.isFinite(sigma) || !Number.isFinite(sigmaNext)) {
      throw new RangeError(`Brownian noise: σ must be finite, got (${sigma}, ${sigmaNext})`);
    }
    const from = valueAt(sigma);
    const to = valueAt(sigmaNext);
    const gap = Math.abs(sigmaNext - sigma);
    // An empty interval has a zero increment; its 0/0 normalisation is taken as 0.
    if (from === to) {
      if (size === undefined) throw new RangeError(`Brownian noise: empty interval at σ = ${sigma} before any draw fixed the latent size`);
      return new Float64Array(size);
    }
    const scale = 1 / Math.sqrt(gap);
    return combine([[scale, to], [-scale, from]]);
  };
}
