/**
 * `cv2.GaussianBlur(img_u8, (0, 0), sigma)` as OpenCV 4.6.0 runs it on 8-bit
 * images: the bit-exact fixed-point path (`GaussianBlurFixedPoint`,
 * imgproc/src/smooth.simd.hpp), not a float convolution.
 *
 * - Kernel size from sigma: `cvRound(sigma·3·2 + 1) | 1` for 8-bit
 *   (σ 0.8 → 7 taps).
 * - Taps: `exp(−x²/(2σ²))` normalised in double, then each converted to
 *   `ufixedpoint16` (8 fractional bits, rounded): for σ 0.8 that is
 *   [0, 6, 58, 128, 58, 6, 0]/256.
 * - Horizontal pass into 8.8 fixed point (exact: u8 × tap), vertical pass
 *   into 16.16, result `(v + 2^15) >> 16` saturated to 0…255.
 * - Border `BORDER_REFLECT_101` (the default), applied per axis.
 */
import { assertImage, borderReflect101, cvRound, type U8Image } from './cvImage.ts';

/** OpenCV's kernel size rule for 8-bit images. */
export function gaussianKernelSizeU8(sigma: number): number {
  return cvRound(sigma * 3 * 2 + 1) | 1;
}

/** `getFixedpointGaussianKernel<ufixedpoint16>(n, sigma)`: taps in 1/256. */
export function gaussianKernelFixed8(n: number, sigma: number): Int32Array {
  if (!(sigma > 0)) throw new RangeError('gaussianKernelFixed8: sigma must be > 0 (the fixed small kernels are not ported)');
  const scale2X = (-0.5 * 0.25) / (sigma * sigma);
  const values = new Float64Array(n);
  let sum = 0;
  for (let i = 0, x = 1 - n; i < n; i++, x += 2) {
    values[i] = Math.exp(x * x * scale2X);
    sum += values[i];
  }
  sum = 1 / sum;
  return Int32Array.from(values, (v) => cvRound(v * sum * 256));
}

/** `cv2.GaussianBlur(src, (0, 0), sigma)` of an 8-bit image (any channel count). */
export function gaussianBlurU8(src: U8Image, sigma: number): U8Image {
  assertImage(src, 'gaussianBlurU8');
  const { width: w, height: h, channels: cn } = src;
  let kx = w === 1 ? 1 : gaussianKernelSizeU8(sigma);
  let ky = h === 1 ? 1 : gaussianKernelSizeU8(sigma);
  if (kx === 1 && ky === 1) return { ...src, data: src.data.slice() };
  const kernX = kx === 1 ? Int32Array.of(256) : gaussianKernelFixed8(kx, sigma);
  const kernY = ky === 1 ? Int32Array.of(256) : gaussianKernelFixed8(ky, sigma);
  kx = kernX.length;
  ky = kernY.length;
  const rx = kx >> 1;
  const ry = ky >> 1;
  // Source column / row of every tap, reflected once up front.
  const xIndex = new Int32Array(w * kx);
  for (let x = 0; x < w; x++) for (let k = 0; k < kx; k++) xIndex[x * kx + k] = borderReflect101(x + k - rx, w) * cn;
  const yIndex = new Int32Array(h * ky);
  for (let y = 0; y < h; y++) for (let k = 0; k < ky; k++) yIndex[y * ky + k] = borderReflect101(y + k - ry, h) * w * cn;
  // Horizontal: u8 × 8.8 taps → 8.8 (≤ 255·256, fits without saturation).
  const row = new Int32Array(w * h * cn);
  for (let y = 0; y < h; y++) {
    const base = y * w * cn;
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < cn; c++) {
        let s = 0;
        for (let k = 0; k < kx; k++) s += kernX[k] * src.data[base + xIndex[x * kx + k] + c];
        row[base + x * cn + c] = s;
      }
    }
  }
  // Vertical: 8.8 × 8.8 → 16.16, rounded to bytes.
  const out = new Uint8Array(w * h * cn);
  const stride = w * cn;
  for (let y = 0; y < h; y++) {
    for (let i = 0; i < stride; i++) {
      let s = 0;
      for (let k = 0; k < ky; k++) s += kernY[k] * row[yIndex[y * ky + k] + i];
      const v = (s + 32768) >>> 16;
      out[y * stride + i] = v > 255 ? 255 : v;
    }
  }
  return { data: out, width: w, height: h, channels: cn };
}
