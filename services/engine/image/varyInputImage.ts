/**
 * The size rules Fooocus applies to an input image before Vary encodes it
 * (F modules/async_worker.py apply_vary, modules/util.py; pipeline.md §3.1,
 * golden-features README §5):
 *
 *  - `get_shape_ceil(h, w) = ceil(sqrt(h·w)/64)·64`;
 *  - Vary clamps the image's shape ceil to [1024, 2048];
 *  - `set_image_shape_ceil` then rescales both sides (each a multiple of 64,
 *    Python's half-to-even `round`, at most 256 iterations) until the shape
 *    ceil matches, and PIL-Lanczos resamples; an image already at its target
 *    is returned unchanged, whatever its sides;
 *  - the VAE encode crops to multiples of 8, centred (ComfyUI
 *    `VAE.vae_encode_crop_pixels`; this only bites an unchanged image whose
 *    sides are not multiples of 8).
 * The generation size is the result's size (Fooocus: latent size × 8).
 */
import { resampleLanczos, type U8Image } from './resampleLanczos.ts';

/** Fooocus Vary's shape-ceil range. */
export const VARY_MIN_SHAPE_CEIL = 1024;
export const VARY_MAX_SHAPE_CEIL = 2048;
const SHAPE_CEIL_ITERATIONS = 256;
const VAE_CROP = 8;

/** Python's round() (half to even) of a float. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Fooocus `get_shape_ceil`. */
export function getShapeCeil(height: number, width: number): number {
  return Math.ceil(Math.sqrt(height * width) / 64) * 64;
}

/** The (height, width) `set_image_shape_ceil` resizes to (the input's own when no resize happens). */
export function shapeCeilSize(height: number, width: number, shapeCeil: number): { height: number; width: number } {
  let h = height;
  let w = width;
  for (let i = 0; i < SHAPE_CEIL_ITERATIONS; i++) {
    const current = getShapeCeil(h, w);
    if (Math.abs(current - shapeCeil) < 0.1) break;
    const k = shapeCeil / current;
    h = Math.trunc(roundHalfEven((h * k) / 64) * 64);
    w = Math.trunc(roundHalfEven((w * k) / 64) * 64);
  }
  return { height: h, width: w };
}

/** Fooocus `set_image_shape_ceil`: the image itself when the size is unchanged, else a PIL-Lanczos resample. */
export function setImageShapeCeil(image: U8Image, shapeCeil: number): U8Image {
  const { height, width } = shapeCeilSize(image.height, image.width, shapeCeil);
  if (height === image.height && width === image.width) return image;
  return resampleLanczos(image, width, height);
}

/** The shape ceil Vary resizes an image of this size to. */
export function varyShapeCeil(height: number, width: number): number {
  return Math.min(VARY_MAX_SHAPE_CEIL, Math.max(VARY_MIN_SHAPE_CEIL, getShapeCeil(height, width)));
}

/** ComfyUI `vae_encode_crop_pixels`: centred crop to multiples of 8. */
export function cropToVaeMultiple(image: U8Image): U8Image {
  const h = Math.floor(image.height / VAE_CROP) * VAE_CROP;
  const w = Math.floor(image.width / VAE_CROP) * VAE_CROP;
  if (h === image.height && w === image.width) return image;
  if (h === 0 || w === 0) throw new RangeError(`image ${image.width}×${image.height} is smaller than ${VAE_CROP} pixels`);
  const top = Math.floor((image.height % VAE_CROP) / 2);
  const left = Math.floor((image.width % VAE_CROP) / 2);
  const ch = image.channels;
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const from = ((y + top) * image.width + left) * ch;
    out.set(image.data.subarray(from, from + w * ch), y * w * ch);
  }
  return { data: out, width: w, height: h, channels: ch };
}

/** An RGB input image as Vary encodes it: shape ceil clamped to 1024–2048, resized, cropped to multiples of 8. */
export function varyInputImage(image: U8Image): U8Image {
  if (image.channels !== 3) throw new RangeError(`Vary needs an RGB image, got ${image.channels} channels`);
  return cropToVaeMultiple(setImageShapeCeil(image, varyShapeCeil(image.height, image.width)));
}
