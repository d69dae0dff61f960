/**
 * The mask operations of Fooocus inpaint (F modules/util.py erode_or_dilate,
 * modules/inpaint_worker.py morphological_open / up255, modules/async_worker.py
 * mask upload; pipeline.md §3.3 step 1, golden-features README §5), on 8-bit
 * single-channel masks (U8Image with `channels` 1, 0 = keep, 255 = repaint).
 *
 * OpenCV's dilate/erode with a 3×3 box kernel and the default border
 * (`BORDER_CONSTANT` with `morphologyDefaultBorderValue`, i.e. −∞ for dilate
 * and +∞ for erode) take the max/min over the neighbours that lie inside the
 * image; `iterations = k` is k successive 3×3 passes. The box max is
 * separable, so each pass is a row max then a column max — exactly the same
 * values, in O(9) → O(6) reads per pixel.
 */
import { resampleLanczos, type U8Image } from '../image/resampleLanczos.ts';

/** A 2-D 8-bit mask (one channel). */
export type Mask = U8Image;

function assertMask(m: U8Image, what: string): void {
  if (m.channels !== 1) throw new RangeError(`${what} must have one channel, got ${m.channels}`);
  if (m.data.length !== m.width * m.height) throw new RangeError(`${what} has ${m.data.length} bytes, expected ${m.width}×${m.height}`);
}

type Numeric = Uint8Array | Int16Array;

/** One 3×3 max (or min) pass over the in-image neighbours, into a new array of the same type. */
function boxExtremum3<T extends Numeric>(src: T, width: number, height: number, max: boolean): T {
  const pick = max ? Math.max : Math.min;
  const rows = new (src.constructor as new (n: number) => T)(src.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      let v = src[o + x];
      if (x > 0) v = pick(v, src[o + x - 1]);
      if (x + 1 < width) v = pick(v, src[o + x + 1]);
      rows[o + x] = v;
    }
  }
  const out = new (src.constructor as new (n: number) => T)(src.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      let v = rows[o + x];
      if (y > 0) v = pick(v, rows[o - width + x]);
      if (y + 1 < height) v = pick(v, rows[o + width + x]);
      out[o + x] = v;
    }
  }
  return out;
}

/** Fooocus `erode_or_dilate(mask, k)`: k > 0 → k 3×3 dilations, k < 0 → −k erosions, 0 → the mask itself. */
export function erodeOrDilate(mask: Mask, k: number): Mask {
  assertMask(mask, 'mask');
  const n = Math.trunc(k);
  if (n === 0) return mask;
  let data = mask.data;
  for (let i = 0; i < Math.abs(n); i++) data = boxExtremum3(data, mask.width, mask.height, n > 0);
  return { ...mask, data };
}

/** `255 − mask` (Fooocus' invert-mask option). */
export function invertMask(mask: Mask): Mask {
  assertMask(mask, 'mask');
  const data = new Uint8Array(mask.data.length);
  for (let i = 0; i < data.length; i++) data[i] = 255 - mask.data[i];
  return { ...mask, data };
}

/**
 * The advanced-masking upload merged into the drawn mask (F async_worker.py):
 * the upload is PIL-Lanczos resampled to the image size, its channel mean
 * (float64, as numpy) thresholded at > 127 to 0/255, and max-combined with
 * the drawn mask.
 */
export function mergeUploadedMask(drawn: Mask, upload: U8Image): { merged: Mask; resampled: U8Image } {
  assertMask(drawn, 'drawn mask');
  const resampled = resampleLanczos(upload, drawn.width, drawn.height);
  const ch = resampled.channels;
  const data = new Uint8Array(drawn.data.length);
  for (let p = 0; p < data.length; p++) {
    let sum = 0;
    for (let c = 0; c < ch; c++) sum += resampled.data[p * ch + c];
    const up = sum / ch > 127 ? 255 : 0;
    data[p] = Math.max(drawn.data[p], up);
  }
  return { merged: { ...drawn, data }, resampled };
}

/** Fooocus `up255(x, t)`: 255 where x > t, else 0. */
export function up255(mask: Mask, threshold = 0): Mask {
  const data = new Uint8Array(mask.data.length);
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i] > threshold ? 255 : 0;
  return { ...mask, data };
}

/** Iterations and fall-off of `morphological_open`: 32 × (3×3 max − 8) ≈ a 32 px feather. */
const FEATHER_ITERATIONS = 32;
const FEATHER_STEP = 8;

/**
 * Fooocus `morphological_open` (the soft blend mask of post-processing):
 * int16 `256·(mask > 127)`, then 32× `max(dilate3×3(x) − 8, x)`, clipped to u8.
 */
export function morphologicalOpen(mask: Mask): Mask {
  assertMask(mask, 'mask');
  let x = new Int16Array(mask.data.length);
  for (let i = 0; i < x.length; i++) x[i] = mask.data[i] > 127 ? 256 : 0;
  for (let it = 0; it < FEATHER_ITERATIONS; it++) {
    const maxed = boxExtremum3(x, mask.width, mask.height, true);
    for (let i = 0; i < x.length; i++) maxed[i] = Math.max(maxed[i] - FEATHER_STEP, x[i]);
    x = maxed;
  }
  const data = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = x[i] < 0 ? 0 : x[i] > 255 ? 255 : x[i];
  return { ...mask, data };
}
