/**
 * `cv2.Canny(gray_u8, low, high)` as OpenCV 4.6.0 computes it
 * (imgproc/src/canny.cpp, aperture 3, `L2gradient=false`):
 *
 * 1. 3×3 Sobel dx, dy into int16 with `BORDER_REPLICATE` (Canny's own
 *    choice, not the filter default);
 * 2. magnitude `|dx| + |dy|`; rows and columns outside the image count as 0;
 * 3. non-maximum suppression with OpenCV's integer sector test
 *    (tan 22.5° as `TG22 = 13573` in 15-bit fixed point) and its mix of
 *    strict and non-strict comparisons — horizontal `m > left && m ≥ right`,
 *    vertical `m > up && m ≥ down`, diagonals strict on both sides;
 * 4. a pixel that survives with `m > low` is strong when `m > high`,
 *    otherwise a candidate; hysteresis keeps every candidate 8-connected to
 *    a strong pixel (the set does not depend on OpenCV's stripe order).
 *
 * Thresholds are floored (`cvFloor`) and swapped when low > high, as OpenCV
 * does. The output is 255 on edges, 0 elsewhere.
 */
import { assertImage, borderReplicate, type U8Image } from './cvImage.ts';

const CANNY_SHIFT = 15;
const TG22 = Math.trunc(0.4142135623730950488016887242097 * (1 << CANNY_SHIFT) + 0.5);

/** 3×3 Sobel derivatives (int16 range) with replicated borders. */
export function sobel3(src: U8Image): { dx: Int32Array; dy: Int32Array } {
  const { width: w, height: h, data } = src;
  // Replicated-border copy, one pixel each side, so the inner loop has no bounds checks.
  const pw = w + 2;
  const pad = new Int32Array(pw * (h + 2));
  for (let y = -1; y <= h; y++) {
    const sy = borderReplicate(y, h) * w;
    const row = (y + 1) * pw;
    for (let x = -1; x <= w; x++) pad[row + x + 1] = data[sy + borderReplicate(x, w)];
  }
  const dx = new Int32Array(w * h);
  const dy = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    const t = y * pw;
    const m = t + pw;
    const b = m + pw;
    for (let x = 0; x < w; x++) {
      dx[y * w + x] = pad[t + x + 2] + 2 * pad[m + x + 2] + pad[b + x + 2] - (pad[t + x] + 2 * pad[m + x] + pad[b + x]);
      dy[y * w + x] = pad[b + x] + 2 * pad[b + x + 1] + pad[b + x + 2] - (pad[t + x] + 2 * pad[t + x + 1] + pad[t + x + 2]);
    }
  }
  return { dx, dy };
}

/** `cv2.Canny(src, low, high)` of a single-channel 8-bit image; 255 = edge. */
export function canny(src: U8Image, lowThreshold: number, highThreshold: number): U8Image {
  assertImage(src, 'canny');
  if (src.channels !== 1) throw new RangeError(`canny: ${src.channels} channels, expected 1`);
  let lowT = lowThreshold;
  let highT = highThreshold;
  if (lowT > highT) [lowT, highT] = [highT, lowT];
  const low = Math.floor(lowT);
  const high = Math.floor(highT);
  const { width: w, height: h } = src;
  const { dx, dy } = sobel3(src);
  // Magnitudes with a ring of zeros: rows and columns outside the image count as 0.
  const pw = w + 2;
  const mag = new Int32Array(pw * (h + 2));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mag[(y + 1) * pw + x + 1] = Math.abs(dx[y * w + x]) + Math.abs(dy[y * w + x]);

  // 0: candidate, 1: not an edge, 2: edge; a ring of 1s keeps hysteresis inside.
  const map = new Uint8Array(pw * (h + 2)).fill(1);
  const stack: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y + 1) * pw + x + 1;
      const v = mag[p];
      if (v <= low) continue;
      const i = y * w + x;
      const xs = dx[i];
      const ys = dy[i];
      const ax = Math.abs(xs);
      const ay = Math.abs(ys) * (1 << CANNY_SHIFT);
      const tg22x = ax * TG22;
      let peak: boolean;
      if (ay < tg22x) {
        peak = v > mag[p - 1] && v >= mag[p + 1];
      } else {
        const tg67x = tg22x + ax * (1 << (CANNY_SHIFT + 1));
        if (ay > tg67x) {
          peak = v > mag[p - pw] && v >= mag[p + pw];
        } else {
          const s = (xs ^ ys) < 0 ? -1 : 1;
          peak = v > mag[p - pw - s] && v > mag[p + pw + s];
        }
      }
      if (!peak) continue;
      if (v > high) {
        map[p] = 2;
        stack.push(p);
      } else {
        map[p] = 0;
      }
    }
  }

  const neighbours = [-pw - 1, -pw, -pw + 1, -1, 1, pw - 1, pw, pw + 1];
  while (stack.length > 0) {
    const p = stack.pop()!;
    for (const d of neighbours) {
      if (map[p + d] === 0) {
        map[p + d] = 2;
        stack.push(p + d);
      }
    }
  }

  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = map[(y + 1) * pw + x + 1] === 2 ? 255 : 0;
  return { data: out, width: w, height: h, channels: 1 };
}
