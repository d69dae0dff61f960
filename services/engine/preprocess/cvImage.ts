/**
 * The two image layouts the OpenCV ports work on: interleaved HWC bytes
 * (`U8Image`, shared with the PIL Lanczos port) and interleaved HWC float32
 * (`F32Image`, what numpy/OpenCV hold after `astype(np.float32)`).
 *
 * Helpers here are the small numeric rules every port needs in the same
 * form: float32 rounding (`f32`), OpenCV's `cvRound` / `saturate_cast<uchar>`
 * (round half to even, as `lrint` does under the default rounding mode), and
 * border index maps.
 */
import type { U8Image } from '../image/resampleLanczos.ts';

export type { U8Image };

export interface F32Image {
  /** HWC float32 values, `channels` per pixel. */
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

export const f32 = Math.fround;

/** `cvRound`: nearest integer, ties to even (x86 `cvtsd2si` under the default rounding mode). */
export function cvRound(v: number): number {
  const r = Math.round(v);
  // Math.round rounds ties up; move exact ties that landed on an odd number back down.
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `saturate_cast<uchar>(float|double)`. */
export function saturateU8(v: number): number {
  const r = cvRound(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** `BORDER_REPLICATE` index. */
export function borderReplicate(i: number, n: number): number {
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/** `BORDER_REFLECT_101` index (gfedcb|abcdefgh|gfedcba). */
export function borderReflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * n - 2 - i;
  }
  return i;
}

export function assertImage(image: { data: ArrayLike<number>; width: number; height: number; channels: number }, what: string): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width < 1 || image.height < 1) {
    throw new RangeError(`${what}: invalid size ${image.width}×${image.height}`);
  }
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new RangeError(`${what}: ${image.data.length} values for ${image.width}×${image.height}×${image.channels}`);
  }
}

/** One channel of an interleaved image as a planar copy. */
export function channelOf(image: U8Image, c: number): U8Image {
  const n = image.width * image.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = image.data[i * image.channels + c];
  return { data: out, width: image.width, height: image.height, channels: 1 };
}
