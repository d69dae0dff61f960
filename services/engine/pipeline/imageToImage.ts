/**
 * The image-to-image start (Fooocus Vary, F modules/async_worker.py apply_vary;
 * pipeline.md §3.1, golden-features README §3): the input image becomes the
 * sampler's starting latent instead of an empty one.
 *
 *  1. pixels: u8 HWC → `u8/255` (core.numpy_to_pytorch) → `2·x − 1` NCHW
 *     (ComfyUI VAE.process_input), float32 as torch computes them;
 *  2. the VAE encoder gives the posterior moments; Fooocus SAMPLES the
 *     posterior (ComfyUI DiagonalGaussianDistribution.sample):
 *     `latent = mean + exp(0.5·clamp(logvar, −30, 20))·eps`, raw (unscaled);
 *  3. the sampler multiplies it by the latent scale (`process_latent_in`) and
 *     adds the seed's noise times `sqrt(1+σ0²)` when σ0 is σmax, else σ0
 *     (diffusion/initialLatent.ts), over the denoise-sliced schedule
 *     (diffusion/samplingSigmas.ts: `int(steps/denoise)` steps, last steps+1).
 *
 * Decision: where `eps` comes from. Fooocus draws it from torch's global RNG
 * without a seed, so a Fooocus Vary never repeats; here it is
 * `torchRandn(shape, posteriorNoiseSeed(seed))` with the project's
 * torch-identical generator, so a task re-run (a redelivered attempt, a user
 * re-sending the same seed) gives the same picture. The seed is offset from
 * the image seed because torch's CPU generator only keeps the low 32 bits:
 * the same seed would make `eps` equal to the initial noise, and a plain
 * 2^63 offset would too. The offset 0x9E3779B9 keeps the low 32 bits apart
 * from the seed and from the sampler's own draws (seed + 1 + m,
 * diffusion/seededNoise.ts) for any realistic number of draws.
 */
import { torchRandn } from '../diffusion/torchRandn.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';

/** ComfyUI DiagonalGaussianDistribution clamps logvar to this range before exp. */
const LOGVAR_MIN = -30;
const LOGVAR_MAX = 20;
/** Offset of the posterior draw's seed from the image seed (see the top comment). */
const POSTERIOR_SEED_OFFSET = 0x9e3779b9n;
/** The VAE downsamples by 8; ComfyUI crops an encoder input to multiples of it. */
export const VAE_DOWNSCALE = 8;

/** Whatever encodes pixels: a checkpoint's built-in VAE or a separate one (LoadedVae). */
export interface PixelEncoder {
  encode(image: FloatTensor): Promise<FloatTensor>;
}

/** The seed of the posterior draw for an encode seeded by `seed` (0..2^64−1). */
export function posteriorNoiseSeed(seed: bigint): bigint {
  return BigInt.asUintN(64, seed + POSTERIOR_SEED_OFFSET);
}

/** HWC RGB bytes → [1, 3, H, W] float32 in [−1, 1]: `2·(u8/255) − 1`, each step rounded to float32 as torch does. */
export function rgb8ToVaeInput(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new EngineInputError(`init image has ${rgb.length} bytes, expected ${width}×${height}×3 = ${plane * 3}`);
  const f = Math.fround;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = f(f(2 * f(rgb[p * 3 + c] / 255)) - 1);
  }
  return out;
}

export interface Posterior {
  /** [1, z, h, w] each. */
  mean: Float32Array;
  logvar: Float32Array;
  dims: [number, number, number, number];
}

/** Encoder moments [1, 2z, h, w] → mean (channels 0..z−1) and logvar (z..2z−1). */
export function splitPosterior(moments: FloatTensor): Posterior {
  const [b, c2, h, w] = moments.dims;
  if (b !== 1 || c2 % 2 !== 0) throw new RangeError(`VAE moments must be [1, 2z, h, w], got [${moments.dims.join(', ')}]`);
  const half = (c2 / 2) * h * w;
  return {
    mean: moments.data.slice(0, half),
    logvar: moments.data.slice(half, 2 * half),
    dims: [1, c2 / 2, h, w],
  };
}

/** `mean + exp(0.5·clamp(logvar, −30, 20))·eps` in float32 (the raw, unscaled latent). */
export function samplePosterior(posterior: Posterior, eps: ArrayLike<number>): Float32Array {
  const { mean, logvar } = posterior;
  if (eps.length !== mean.length) throw new RangeError(`posterior eps has ${eps.length} values, expected ${mean.length}`);
  const f = Math.fround;
  const out = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    const lv = Math.min(LOGVAR_MAX, Math.max(LOGVAR_MIN, logvar[i]));
    const std = f(Math.exp(f(0.5 * lv)));
    out[i] = f(mean[i] + f(std * eps[i]));
  }
  return out;
}

export interface EncodedInit {
  /** Raw VAE latent [1, z, H/8, W/8] (before the sampler's latent scale). */
  latent: Float32Array;
  posterior: Posterior;
  eps: Float32Array;
}

/**
 * Encodes an init image and samples its posterior. `opts.eps` replaces the
 * seeded draw (the golden cases record the one Fooocus drew).
 */
export async function encodeInitImage(
  encoder: PixelEncoder,
  image: { rgb: Uint8Array; width: number; height: number },
  seed: bigint,
  opts: { eps?: ArrayLike<number> } = {},
): Promise<EncodedInit> {
  const { width, height } = image;
  if (width % VAE_DOWNSCALE !== 0 || height % VAE_DOWNSCALE !== 0) {
    throw new EngineInputError(`init image size must be a multiple of ${VAE_DOWNSCALE}, got ${width}×${height}`);
  }
  const moments = await encoder.encode({ data: rgb8ToVaeInput(image.rgb, width, height), dims: [1, 3, height, width] });
  const posterior = splitPosterior(moments);
  const eps = opts.eps ? Float32Array.from(opts.eps) : torchRandn(posterior.dims, posteriorNoiseSeed(seed));
  return { latent: samplePosterior(posterior, eps), posterior, eps };
}
