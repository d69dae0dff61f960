/**
 * The PyraCanny hint of Fooocus (F modules/async_worker.py, cn_type
 * PyraCanny): `resize_image(HWC3(image), width, height)` (mode 1: fill and
 * centre-crop) → `canny_pyramid(·, low, high)` → HWC3 → /255, float32. The
 * model gets it NCHW, [1, 3, height, width]; ComfyUI's nearest-exact upscale
 * to the latent × 8 is the identity at the generation size.
 */
import { hwc3 } from '../image/decodeImage.ts';
import type { U8Image } from '../image/resampleLanczos.ts';
import { cannyPyramid } from '../preprocess/cannyPyramid.ts';
import { cpds } from '../preprocess/cpds.ts';
import { resizeImage } from '../preprocess/resizeImage.ts';
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';

/** Fooocus's PyraCanny thresholds (canny_low_threshold / canny_high_threshold defaults). */
export const PYRACANNY_THRESHOLDS = { low: 64, high: 128 } as const;

export interface ControlHint {
  /** HWC 8-bit hint (3 equal channels): what Fooocus shows and feeds. */
  u8: U8Image;
  /** [1, 3, H, W] float32 u8/255. */
  tensor: FloatTensor;
}

/** 8-bit HWC (any channel count) → [1, C, H, W] float32 /255. */
export function hintTensor(image: U8Image): FloatTensor {
  const { width, height, channels, data } = image;
  const out = new Float32Array(channels * width * height);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < channels; c++) out[c * width * height + p] = Math.fround(data[p * channels + c] / 255);
  return { data: out, dims: [1, channels, height, width] };
}

export function pyraCannyHint(image: U8Image, width: number, height: number, low: number = PYRACANNY_THRESHOLDS.low, high: number = PYRACANNY_THRESHOLDS.high): ControlHint {
  const resized = resizeImage(hwc3(image), width, height, 1);
  const u8 = hwc3(cannyPyramid(resized, low, high).edges);
  return { u8, tensor: hintTensor(u8) };
}

/**
 * Fooocus apply_control_nets for one PyraCanny or CPDS slot: `resize_image(HWC3(img), width,
 * height)` (mode 1), then the type's preprocessor unless `skipPreprocessor`
 * (skipping_cn_preprocessor: the resized image is the hint), then HWC3 → /255.
 */
export function controlImageHint(
  type: 'PyraCanny' | 'CPDS',
  image: U8Image,
  width: number,
  height: number,
  opts: { low?: number; high?: number; skipPreprocessor?: boolean } = {},
): ControlHint {
  const resized = resizeImage(hwc3(image), width, height, 1);
  let hint = resized;
  if (!opts.skipPreprocessor) {
    hint = type === 'PyraCanny'
      ? cannyPyramid(resized, opts.low ?? PYRACANNY_THRESHOLDS.low, opts.high ?? PYRACANNY_THRESHOLDS.high).edges
      : cpds(resized).hint;
  }
  const u8 = hwc3(hint);
  return { u8, tensor: hintTensor(u8) };
}
