/**
 * PIL's Lanczos resize of 8-bit images, bit for bit (Fooocus `resample_image`:
 * `Image.fromarray(im).resize((w, h), LANCZOS)`; Pillow
 * `src/libImaging/Resample.c`). Fooocus resizes every input image this way
 * (Vary's shape ceil, inpaint crops, image prompts), so a different filter
 * (sharp's lanczos3 rounds and windows differently) would start Vary from
 * other pixels than Fooocus does.
 *
 * The algorithm, as Pillow runs it for box (0, 0, W, H) and no reducing gap:
 *  - per axis, coefficients for each output pixel: `scale = in/out`,
 *    `filterscale = max(scale, 1)`, support `3·filterscale`, taps
 *    `lanczos((x + xmin − center + 0.5)/filterscale)` for
 *    `xmin = int(center − support + 0.5)` … `int(center + support + 0.5)`
 *    clipped to the image, normalised to sum 1, then fixed point with 22
 *    fractional bits (`int(±0.5 + k·2^22)`, truncation);
 *  - a horizontal pass (when the width changes) into 8-bit, then a vertical
 *    pass (when the height changes), each pixel `clip8((2^21 + Σ v·k) >> 22)`.
 * The intermediate image is 8-bit, as in Pillow; that rounding is part of
 * the result.
 */

import { clip8, pillowCoefficients, PRECISION_BITS, type Coefficients, type PillowFilter } from './pillowCoefficients.ts';

const LANCZOS_SUPPORT = 3;

export interface U8Image {
  /** HWC bytes, `channels` per pixel. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos(x: number): number {
  return x >= -LANCZOS_SUPPORT && x < LANCZOS_SUPPORT ? sinc(x) * sinc(x / LANCZOS_SUPPORT) : 0;
}

const LANCZOS: PillowFilter = { fn: lanczos, support: LANCZOS_SUPPORT };

const coefficients = (inSize: number, outSize: number) => pillowCoefficients(LANCZOS, inSize, 0, inSize, outSize);

function resampleHorizontal(src: U8Image, outWidth: number, rowFirst: number, rows: number): U8Image {
  const { ksize, bounds, kk } = coefficients(src.width, outWidth);
  const ch = src.channels;
  const out = new Uint8Array(outWidth * rows * ch);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + rowFirst) * src.width * ch;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const k = xx * ksize;
      for (let c = 0; c < ch; c++) {
        let ss = half;
        for (let x = 0; x < xmax; x++) ss += src.data[rowIn + (x + xmin) * ch + c] * kk[k + x];
        out[(y * outWidth + xx) * ch + c] = clip8(ss);
      }
    }
  }
  return { data: out, width: outWidth, height: rows, channels: ch };
}

function resampleVertical(src: U8Image, outHeight: number, coeffs: Coefficients, rowShift: number): U8Image {
  const { ksize, bounds, kk } = coeffs;
  const ch = src.channels;
  const w = src.width;
  const out = new Uint8Array(w * outHeight * ch);
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2] - rowShift;
    const ymax = bounds[yy * 2 + 1];
    const k = yy * ksize;
    for (let xx = 0; xx < w; xx++) {
      for (let c = 0; c < ch; c++) {
        let ss = half;
        for (let y = 0; y < ymax; y++) ss += src.data[((y + ymin) * w + xx) * ch + c] * kk[k + y];
        out[(yy * w + xx) * ch + c] = clip8(ss);
      }
    }
  }
  return { data: out, width: w, height: outHeight, channels: ch };
}

/** `Image.resize((width, height), Image.LANCZOS)` of an 8-bit image (any channel count, each filtered alone). */
export function resampleLanczos(image: U8Image, width: number, height: number): U8Image {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resampleLanczos: invalid size ${width}×${height}`);
  }
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new RangeError(`resampleLanczos: ${image.data.length} bytes for ${image.width}×${image.height}×${image.channels}`);
  }
  const needHorizontal = width !== image.width;
  const needVertical = height !== image.height;
  if (!needHorizontal && !needVertical) return { ...image, data: image.data.slice() };
  const vertical = coefficients(image.height, height);
  // Pillow's horizontal pass covers only the rows the vertical pass reads.
  const rowFirst = vertical.bounds[0];
  const rowLast = vertical.bounds[height * 2 - 2] + vertical.bounds[height * 2 - 1];
  if (!needVertical) return resampleHorizontal(image, width, 0, image.height);
  if (!needHorizontal) return resampleVertical(image, height, vertical, 0);
  const temp = resampleHorizontal(image, width, rowFirst, rowLast - rowFirst);
  return resampleVertical(temp, height, vertical, rowFirst);
}
