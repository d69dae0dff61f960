/**
 * Reproducible noise draws for the stochastic samplers: draw m of a request
 * is `torch.randn(shape, generator=torch.manual_seed(seed + 1 + m))`, the
 * golden set's "exact replay" convention (README §2.10). seed itself is the
 * initial latent noise, so the draws start at seed + 1.
 *
 * Fooocus takes ancestral noise from torch's global RNG and Brownian
 * increments from torchsde, neither reproducible outside torch; this stream
 * has the same distribution, is deterministic per seed, and lets every
 * sampler be checked against the recorded runs.
 */
import { torchRandn } from './torchRandn.ts';

/**
 * The m-th call returns the standard normal of seed + 1 + m (seeds wrap
 * modulo 2^64). σ arguments are accepted and ignored, so the result is both
 * an i.i.d. `NoiseSampler` and a `draw` for `createBrownianNoise`.
 */
export function createSeededNoise(seed: bigint, shape: readonly number[]): (sigma?: number, sigmaNext?: number) => Float64Array {
  let m = 0n;
  return () => {
    const drawSeed = BigInt.asUintN(64, seed + 1n + m);
    m += 1n;
    return Float64Array.from(torchRandn(shape, drawSeed));
  };
}
