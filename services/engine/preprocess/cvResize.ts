/**
 * `cv2.resize` as OpenCV 4.6.0 runs it (imgproc/src/resize.cpp, no IPP or
 * OpenCL, which Debian's build lacks), for the two calls PyraCanny makes:
 *
 * - `INTER_AREA` on 8-bit images when shrinking (both scales ≥ 1). An
 *   integer factor on both axes takes `resizeAreaFast`: 2×2 blocks are
 *   `(a+b+c+d+2)>>2` (the SIMD kernel and its scalar tail agree), larger
 *   blocks `saturate_cast<uchar>(sum · (1.f/area))`. Any other factor takes
 *   `resizeArea_` with `computeResizeAreaTab`'s per-cell weights (float32)
 *   accumulated in float32, row by row, then rounded.
 * - `INTER_LINEAR` on float32 images: `resizeGeneric_` with per-pixel
 *   `fx = (float)((dx+0.5)·scale − 0.5)`, two taps `(1−fx, fx)` in float32;
 *   x is clamped at the borders, y is not (rows are clamped instead, so the
 *   two taps land on the same row and still round as two products).
 *
 * Sizes equal to the source copy, as cv::resize does. Every float step is
 * rounded to float32 (`Math.fround`) where OpenCV's C++ rounds, so results
 * match bit for bit rather than approximately.
 */
import { assertImage, f32, saturateU8, type F32Image, type U8Image } from './cvImage.ts';

const DBL_EPSILON = 2.220446049250313e-16;

/** `computeResizeAreaTab`'s entries as parallel arrays: destination index, source index, float32 weight. */
interface AreaTab {
  di: Int32Array;
  si: Int32Array;
  alpha: Float32Array;
}

/** `computeResizeAreaTab`: source cells and their float32 weights per destination index. */
function computeResizeAreaTab(ssize: number, dsize: number, cn: number, scale: number): AreaTab {
  const di: number[] = [];
  const si: number[] = [];
  const alpha: number[] = [];
  const push = (d: number, s: number, a: number) => {
    di.push(d);
    si.push(s);
    alpha.push(a);
  };
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) push(dx * cn, (sx1 - 1) * cn, (sx1 - fsx1) / cellWidth);
    for (let sx = sx1; sx < sx2; sx++) push(dx * cn, sx * cn, 1.0 / cellWidth);
    if (fsx2 - sx2 > 1e-3) push(dx * cn, sx2 * cn, Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth);
  }
  return { di: Int32Array.from(di), si: Int32Array.from(si), alpha: Float32Array.from(alpha) };
}

function resizeAreaGeneral(src: U8Image, width: number, height: number, scaleX: number, scaleY: number): U8Image {
  const cn = src.channels;
  const xtab = computeResizeAreaTab(src.width, width, cn, scaleX);
  const ytab = computeResizeAreaTab(src.height, height, 1, scaleY);
  const dw = width * cn;
  const out = new Uint8Array(dw * height);
  // Float32Array stores round every sum and product to float32, as OpenCV's float accumulators do.
  const buf = new Float32Array(dw);
  const sum = new Float32Array(dw);
  const rowStride = src.width * cn;
  const xn = xtab.di.length;
  let prevDy = ytab.di[0];
  for (let j = 0; j < ytab.di.length; j++) {
    const dy = ytab.di[j];
    const beta = ytab.alpha[j];
    buf.fill(0);
    const row = ytab.si[j] * rowStride;
    for (let k = 0; k < xn; k++) {
      const d = xtab.di[k];
      const s = row + xtab.si[k];
      const a = xtab.alpha[k];
      for (let c = 0; c < cn; c++) buf[d + c] += f32(src.data[s + c] * a);
    }
    if (dy !== prevDy) {
      const o = prevDy * dw;
      for (let dx = 0; dx < dw; dx++) {
        out[o + dx] = saturateU8(sum[dx]);
        sum[dx] = beta * buf[dx];
      }
      prevDy = dy;
    } else {
      for (let dx = 0; dx < dw; dx++) sum[dx] += f32(beta * buf[dx]);
    }
  }
  const o = prevDy * dw;
  for (let dx = 0; dx < dw; dx++) out[o + dx] = saturateU8(sum[dx]);
  return { data: out, width, height, channels: cn };
}

function resizeAreaFast(src: U8Image, width: number, height: number, sx: number, sy: number): U8Image {
  const cn = src.channels;
  const out = new Uint8Array(width * height * cn);
  const area = sx * sy;
  const scale = f32(1 / area);
  for (let dy = 0; dy < height; dy++) {
    const y0 = dy * sy;
    for (let dx = 0; dx < width; dx++) {
      for (let c = 0; c < cn; c++) {
        let total = 0;
        let count = 0;
        for (let yy = y0; yy < y0 + sy && yy < src.height; yy++) {
          for (let xx = dx * sx; xx < dx * sx + sx && xx < src.width; xx++) {
            total += src.data[(yy * src.width + xx) * cn + c];
            count++;
          }
        }
        const o = (dy * width + dx) * cn + c;
        if (count === area) out[o] = sx === 2 && sy === 2 ? (total + 2) >> 2 : saturateU8(f32(total * scale));
        else out[o] = saturateU8(f32(total / count));
      }
    }
  }
  return { data: out, width, height, channels: cn };
}

/** `cv2.resize(src, (width, height), interpolation=cv2.INTER_AREA)` for shrinking 8-bit images. */
export function resizeArea(src: U8Image, width: number, height: number): U8Image {
  assertImage(src, 'resizeArea');
  if (width < 1 || height < 1) throw new RangeError(`resizeArea: invalid size ${width}×${height}`);
  if (width === src.width && height === src.height) return { ...src, data: src.data.slice() };
  const scaleX = 1 / (width / src.width);
  const scaleY = 1 / (height / src.height);
  if (scaleX < 1 || scaleY < 1) throw new RangeError('resizeArea: enlarging with INTER_AREA is not ported (PyraCanny only shrinks)');
  const ix = Math.trunc(scaleX);
  const iy = Math.trunc(scaleY);
  if (Math.abs(scaleX - ix) < DBL_EPSILON && Math.abs(scaleY - iy) < DBL_EPSILON) return resizeAreaFast(src, width, height, ix, iy);
  return resizeAreaGeneral(src, width, height, scaleX, scaleY);
}

interface LinearTab {
  ofs: Int32Array;
  /** Two float32 taps per destination index. */
  alpha: Float32Array;
}

function linearTab(ssize: number, dsize: number, clampFraction: boolean): LinearTab {
  const scale = 1 / (dsize / ssize);
  const ofs = new Int32Array(dsize);
  const alpha = new Float32Array(dsize * 2);
  for (let d = 0; d < dsize; d++) {
    let fx = f32((d + 0.5) * scale - 0.5);
    let s = Math.floor(fx);
    fx = f32(fx - s);
    if (clampFraction) {
      if (s < 0) {
        fx = 0;
        s = 0;
      }
      if (s >= ssize - 1) {
        fx = 0;
        s = ssize - 1;
      }
    }
    ofs[d] = s;
    alpha[d * 2] = f32(1 - fx);
    alpha[d * 2 + 1] = fx;
  }
  return { ofs, alpha };
}

/** `cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)` of a float32 image. */
export function resizeLinearF32(src: F32Image, width: number, height: number): F32Image {
  assertImage(src, 'resizeLinearF32');
  if (width < 1 || height < 1) throw new RangeError(`resizeLinearF32: invalid size ${width}×${height}`);
  if (width === src.width && height === src.height) return { ...src, data: src.data.slice() };
  const cn = src.channels;
  const xt = linearTab(src.width, width, true);
  const yt = linearTab(src.height, height, false);
  const dw = width * cn;
  // Per destination value: first source offset in a row, and whether it sits in OpenCV's `xmax` tail (`S[sx]*ONE`).
  const x0 = new Int32Array(dw);
  const a0 = new Float32Array(dw);
  const a1 = new Float32Array(dw);
  const tail = new Uint8Array(dw);
  for (let dx = 0; dx < width; dx++) {
    const sx = xt.ofs[dx];
    for (let c = 0; c < cn; c++) {
      x0[dx * cn + c] = sx * cn + c;
      a0[dx * cn + c] = xt.alpha[dx * 2];
      a1[dx * cn + c] = xt.alpha[dx * 2 + 1];
      tail[dx * cn + c] = sx + 1 >= src.width ? 1 : 0;
    }
  }
  // Horizontal pass of the source rows the vertical pass reads.
  const rowCache = new Map<number, Float32Array>();
  const hrow = (y: number): Float32Array => {
    let r = rowCache.get(y);
    if (r) return r;
    r = new Float32Array(dw);
    const s = y * src.width * cn;
    for (let i = 0; i < dw; i++) {
      const p = s + x0[i];
      r[i] = tail[i] ? src.data[p] : f32(src.data[p] * a0[i]) + f32(src.data[p + cn] * a1[i]);
    }
    rowCache.set(y, r);
    return r;
  };
  const out = new Float32Array(dw * height);
  for (let dy = 0; dy < height; dy++) {
    const sy = yt.ofs[dy];
    const r0 = hrow(Math.min(Math.max(sy, 0), src.height - 1));
    const r1 = hrow(Math.min(Math.max(sy + 1, 0), src.height - 1));
    rowCache.delete(sy - 1);
    const b0 = yt.alpha[dy * 2];
    const b1 = yt.alpha[dy * 2 + 1];
    const o = dy * dw;
    for (let x = 0; x < dw; x++) out[o + x] = f32(r0[x] * b0) + f32(r1[x] * b1);
  }
  return { data: out, width, height, channels: cn };
}

/**
 * `cv2.resize(src_f32, (w/2, h/2), INTER_LINEAR)`: OpenCV swaps an exact
 * halving to INTER_AREA's fast path, which sums each 2×2 block in float32
 * (row 0 left, right, row 1 left, right) and scales by 0.25.
 */
export function halveAreaF32(src: F32Image): F32Image {
  assertImage(src, 'halveAreaF32');
  const width = src.width >> 1;
  const height = src.height >> 1;
  const cn = src.channels;
  const out = new Float32Array(width * height * cn);
  const at = (y: number, x: number, c: number) => src.data[(y * src.width + x) * cn + c];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < cn; c++) {
        const s = f32(f32(f32(at(2 * y, 2 * x, c) + at(2 * y, 2 * x + 1, c)) + at(2 * y + 1, 2 * x, c)) + at(2 * y + 1, 2 * x + 1, c));
        out[(y * width + x) * cn + c] = f32(s * 0.25);
      }
    }
  }
  return { data: out, width, height, channels: cn };
}
