/**
 * Fooocus `encode_vae_inpaint` and the fill encode (F modules/core.py
 * encode_vae_inpaint, modules/async_worker.py; pipeline.md §3.3 step 4,
 * golden-features README §5), on the prepared crop:
 *
 *  - pixels `u8/255`, mask `u8/255` (core.numpy_to_pytorch, float32);
 *  - `latent_inpaint` = VAE(pixels·(1 − round(m)) + 0.5·round(m)): the masked
 *    region is mid-grey, so the head sees only what must be kept;
 *  - `latent_mask` = bilinear resize of m to (latent h·8, w·8) (torch
 *    `interpolate`, align_corners False), round, 8×8 max-pool, round;
 *  - `latent_fill` = VAE(fill image), the sampler's initial latent and the
 *    blend target of KSamplerX0Inpaint.
 * Both encodes SAMPLE the posterior like every Fooocus encode; the draws are
 * seeded here (pipeline/imageToImage.ts explains why), from two different
 * seeds so the two encodes do not share their noise. torch.round is
 * half-to-even.
 */
import { EngineInputError } from '../io/engineErrors.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import type { U8Image } from '../image/resampleLanczos.ts';
import { posteriorNoiseSeed, samplePosterior, splitPosterior, VAE_DOWNSCALE, type PixelEncoder, type Posterior } from '../pipeline/imageToImage.ts';
import type { Mask } from './maskMorphology.ts';

/** torch.round: half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** HWC u8 → HWC float32 `u8/255` (numpy_to_pytorch, batch 1). */
export function unitPixels(image: U8Image): Float32Array {
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(image.data[i] / 255);
  return out;
}

/** `pixels·(1 − round(m)) + 0.5·round(m)`, HWC float32; `mask01` is [H, W] in [0, 1]. */
export function maskedPixels(pixels01: Float32Array, mask01: Float32Array, channels: number): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(pixels01.length);
  for (let p = 0; p < mask01.length; p++) {
    const w = roundHalfEven(mask01[p]);
    for (let c = 0; c < channels; c++) out[p * channels + c] = f(f(pixels01[p * channels + c] * f(1 - w)) + f(0.5 * w));
  }
  return out;
}

/** HWC float32 in [0, 1] → the VAE's [1, C, H, W] input `2·x − 1`. */
export function unitPixelsToVaeInput(pixels01: Float32Array, width: number, height: number, channels = 3): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) out[c * plane + p] = Math.fround(Math.fround(2 * pixels01[p * channels + c]) - 1);
  return out;
}

/** torch `interpolate(mode='bilinear', align_corners=False)` of one [H, W] plane to [outH, outW]. */
export function bilinearResize(src: Float32Array, height: number, width: number, outH: number, outW: number): Float32Array {
  if (outH === height && outW === width) return Float32Array.from(src);
  const f = Math.fround;
  const coords = (outSize: number, inSize: number) => {
    const scale = f(inSize / outSize);
    return Array.from({ length: outSize }, (_, i) => {
      const real = Math.max(0, f(f(scale * f(i + 0.5)) - 0.5));
      const i0 = Math.floor(real);
      const i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
      const l1 = f(real - i0);
      return { i0, i1, l0: f(1 - l1), l1 };
    });
  };
  const ys = coords(outH, height);
  const xs = coords(outW, width);
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const cy = ys[y];
    for (let x = 0; x < outW; x++) {
      const cx = xs[x];
      const top = f(f(cx.l0 * src[cy.i0 * width + cx.i0]) + f(cx.l1 * src[cy.i0 * width + cx.i1]));
      const bottom = f(f(cx.l0 * src[cy.i1 * width + cx.i0]) + f(cx.l1 * src[cy.i1 * width + cx.i1]));
      out[y * outW + x] = f(f(cy.l0 * top) + f(cy.l1 * bottom));
    }
  }
  return out;
}

/** `latent_mask` [1, 1, h, w]: bilinear to (h·8, w·8), round, 8×8 max-pool, round. */
export function latentMaskOf(mask01: Float32Array, height: number, width: number, latentH: number, latentW: number): Float32Array {
  const upH = latentH * VAE_DOWNSCALE;
  const upW = latentW * VAE_DOWNSCALE;
  const up = bilinearResize(mask01, height, width, upH, upW);
  const out = new Float32Array(latentH * latentW);
  for (let y = 0; y < latentH; y++) {
    for (let x = 0; x < latentW; x++) {
      let m = -Infinity;
      for (let dy = 0; dy < VAE_DOWNSCALE; dy++) {
        for (let dx = 0; dx < VAE_DOWNSCALE; dx++) m = Math.max(m, roundHalfEven(up[(y * VAE_DOWNSCALE + dy) * upW + x * VAE_DOWNSCALE + dx]));
      }
      out[y * latentW + x] = roundHalfEven(m);
    }
  }
  return out;
}

export interface EncodedInpaint {
  /** Raw VAE latent of the masked pixels [1, 4, h, w] (unscaled). */
  latentInpaint: Float32Array;
  /** Raw VAE latent of the fill image [1, 4, h, w] (unscaled). */
  latentFill: Float32Array;
  /** [1, 1, h, w], 0 = keep, 1 = repaint. */
  latentMask: Float32Array;
  /** [1, 4, h, w]. */
  latentShape: [number, number, number, number];
  inpaintPosterior: Posterior;
  fillPosterior: Posterior;
  /** The HWC float32 pixels the inpaint latent was encoded from. */
  maskedPixels: Float32Array;
}

export interface EncodeVaeInpaintInput {
  encoder: PixelEncoder;
  /** The prepared crop (RGB). */
  image: U8Image;
  /** Its mask (0/255, one channel). */
  mask: Mask;
  /** `fooocus_fill(image, mask)`, or the image itself when Fooocus skips the fill (denoise ≤ 0.99). */
  fill: U8Image;
  /** Seeds both posterior draws. */
  seed: bigint;
  /** Recorded posterior draws (golden cases), replacing the seeded ones. */
  eps?: { inpaint?: ArrayLike<number>; fill?: ArrayLike<number> };
}

/** The posterior draw seeds: the image-to-image one for the masked pixels, the next for the fill. */
export function inpaintPosteriorSeeds(seed: bigint): { inpaint: bigint; fill: bigint } {
  const inpaint = posteriorNoiseSeed(seed);
  return { inpaint, fill: BigInt.asUintN(64, inpaint + 1n) };
}

async function encodeSampled(encoder: PixelEncoder, input: Float32Array, width: number, height: number, seed: bigint, eps: ArrayLike<number> | undefined) {
  const posterior = splitPosterior(await encoder.encode({ data: input, dims: [1, 3, height, width] }));
  const draw = eps ? Float32Array.from(eps) : torchRandn(posterior.dims, seed);
  return { posterior, latent: samplePosterior(posterior, draw) };
}

export async function encodeVaeInpaint(input: EncodeVaeInpaintInput): Promise<EncodedInpaint> {
  const { image, mask, fill } = input;
  const { width, height } = image;
  if (image.channels !== 3 || fill.channels !== 3) throw new EngineInputError('inpaint image and fill must be RGB');
  if (mask.channels !== 1 || mask.width !== width || mask.height !== height || fill.width !== width || fill.height !== height) {
    throw new EngineInputError(`inpaint mask/fill sizes do not match the image ${width}×${height}`);
  }
  if (width % VAE_DOWNSCALE !== 0 || height % VAE_DOWNSCALE !== 0) {
    throw new EngineInputError(`inpaint crop size must be a multiple of ${VAE_DOWNSCALE}, got ${width}×${height}`);
  }
  const mask01 = new Float32Array(mask.data.length);
  for (let i = 0; i < mask01.length; i++) mask01[i] = Math.fround(mask.data[i] / 255);
  const masked = maskedPixels(unitPixels(image), mask01, 3);
  const seeds = inpaintPosteriorSeeds(input.seed);
  const inpaint = await encodeSampled(input.encoder, unitPixelsToVaeInput(masked, width, height), width, height, seeds.inpaint, input.eps?.inpaint);
  const filled = await encodeSampled(input.encoder, unitPixelsToVaeInput(unitPixels(fill), width, height), width, height, seeds.fill, input.eps?.fill);
  const [, , lh, lw] = inpaint.posterior.dims;
  return {
    latentInpaint: inpaint.latent,
    latentFill: filled.latent,
    latentMask: latentMaskOf(mask01, height, width, lh, lw),
    latentShape: inpaint.posterior.dims,
    inpaintPosterior: inpaint.posterior,
    fillPosterior: filled.posterior,
    maskedPixels: masked,
  };
}
