/**
 * Fooocus CPDS (`extras/preprocessors.cpds`), the hint for
 * `fooocus_xl_cpds_128`: structure that survives decolorization.
 *
 *     raw            = cv2.GaussianBlur(img, (0, 0), 0.8)
 *     density, boost = cv2.decolor(raw)
 *     offset         = sqrt(Σ_c (raw − boost)²)          (float32)
 *     result         = norm255(density + offset, 4, 96).clip(0, 255).astype(uint8)
 *
 * numpy evaluates the offset in float32: `(raw − boost) ** 2.0` per
 * channel, the channel sum ((c0 + c1) + c2), then `** 0.5` (a correctly
 * rounded float32 square root).
 */
import { assertImage, f32, type U8Image } from './cvImage.ts';
import { decolor } from './cvDecolor.ts';
import { gaussianBlurU8 } from './cvGaussianBlur.ts';
import { clipToU8, norm255 } from './norm255.ts';

export const CPDS_BLUR_SIGMA = 0.8;

export interface CpdsResult {
  /** The hint (H×W bytes). */
  hint: U8Image;
  /** `GaussianBlur(img, σ 0.8)`. */
  blurred: U8Image;
  /** `cv2.decolor(blurred)` outputs. */
  decolorGray: U8Image;
  decolorBoost: U8Image;
}

/** Fooocus `cpds(img)` of an RGB 8-bit image. */
export function cpds(image: U8Image): CpdsResult {
  assertImage(image, 'cpds');
  if (image.channels !== 3) throw new RangeError(`cpds: ${image.channels} channels, expected 3`);
  const blurred = gaussianBlurU8(image, CPDS_BLUR_SIGMA);
  const { gray, boost } = decolor(blurred);
  const n = image.width * image.height;
  const result = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < 3; c++) {
      const d = blurred.data[i * 3 + c] - boost.data[i * 3 + c];
      s = f32(s + d * d);
    }
    result[i] = f32(gray.data[i] + f32(Math.sqrt(s)));
  }
  const hint = clipToU8(norm255(result, 4, 96));
  return { hint: { data: hint, width: image.width, height: image.height, channels: 1 }, blurred, decolorGray: gray, decolorBoost: boost };
}
