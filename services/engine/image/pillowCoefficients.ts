/**
 * Pillow's fixed-point resampling coefficients (`src/libImaging/Resample.c`
 * `precompute_coeffs` + `normalize_coeffs_8bpc`), shared by every Pillow
 * filter we reproduce bit for bit (Lanczos in resampleLanczos.ts, bicubic in
 * preprocess/pilBoxResample.ts): per output pixel of a box [in0, in1) of an
 * axis of `inSize` pixels, `scale = (in1 − in0)/out`, `filterscale =
 * max(scale, 1)`, support `filter.support·filterscale`, taps
 * `filter.fn((x + xmin − center + 0.5)/filterscale)` for
 * `xmin = int(center − support + 0.5)` … `int(center + support + 0.5)` clipped
 * to the axis, normalised to sum 1, then 22 fractional bits
 * (`int(±0.5 + k·2^22)`, truncation).
 */

/** Fractional bits of Pillow's 8-bit fixed point. */
export const PRECISION_BITS = 32 - 8 - 2;

export interface PillowFilter {
  fn: (x: number) => number;
  support: number;
}

export interface Coefficients {
  ksize: number;
  /** Per output pixel: first input index and tap count. */
  bounds: Int32Array;
  /** Fixed-point taps, ksize per output pixel. */
  kk: Int32Array;
}

export function pillowCoefficients(filter: PillowFilter, inSize: number, in0: number, in1: number, outSize: number): Coefficients {
  const scale = (in1 - in0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const taps = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      taps[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const k = x < xmax ? (ww !== 0 ? taps[x] / ww : taps[x]) : 0;
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Pillow `clip8`: a fixed-point sum (with its rounding half already added) back to 0..255. */
export function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}
