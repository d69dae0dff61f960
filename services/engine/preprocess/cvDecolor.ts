/**
 * `cv2.decolor(img_u8)` → (gray, color_boost): Lu, Xu and Jia's
 * contrast-preserving decolorization as OpenCV 4.6.0 implements it
 * (photo/src/contrast_preserve.{hpp,cpp}), step for step:
 *
 * 1. `img = I·(1/255)` in float32; images with h + w > 800 are first
 *    shrunk (INTER_LINEAR, which OpenCV turns into a 2×2 area mean for an
 *    exact halving) to `cvRound(w·800/(h+w)) × cvRound(h·800/(h+w))` for
 *    the analysis steps 2–5 only; the gray is built on the full image.
 * 2. Gradients of a channel: forward differences `v(x) − v(x+1)` along x
 *    and `v(y) − v(y+1)` along y in float32, the last column/row 0, laid
 *    out column-major (the transposed image), x block then y block.
 * 3. `Cg`: the L*a*b* gradient norm / 100 (float Lab, `bgrToLabF32`);
 *    `polyGrad`: gradients of the 9 monomials r^i g^j b^k, 1 ≤ i+j+k ≤ 2
 *    (r = channel 2, b = channel 0), each computed in double and stored
 *    as float32; `alf`: +1 / −1 where all three channel gradients exceed
 *    ±0.05 (the weak colour order).
 * 4. `Mt = solve(P·Pᵀ, P∘Cg)`: float32 9×9 normal matrix, solved by
 *    OpenCV's float LU with partial pivoting (`DECOMP_NORMAL` is dropped
 *    for a square matrix).
 * 5. Up to 16 fixed-point iterations in double on the weights (initial
 *    0.33 for the linear terms) with σ = 0.02f, stopping when the energy
 *    changes by ≤ 1e-4.
 * 6. Gray = Σ w·monomial (double terms added into float32), min–max
 *    normalised in float32, `·255` rounded to bytes.
 * 7. Boost: 8-bit Lab of the input with L replaced by the gray, back to
 *    8-bit BGR (`bgrToLabU8` / `labU8ToBgr`).
 */
import { assertImage, cvRound, f32, saturateU8, type U8Image } from './cvImage.ts';
import { bgrToLabF32, bgrToLabU8, labU8ToBgr } from './cvLab.ts';
import { halveAreaF32, resizeLinearF32 } from './cvResize.ts';

const ORDER = 2;
const SIGMA = f32(0.02);
const MAX_ITER = 15;
const TOL = 1e-4;
const FLT_EPSILON = 1.1920928955078125e-7;

export interface DecolorResult {
  /** The contrast-preserving gray image (H×W, one byte per pixel). */
  gray: U8Image;
  /** The input's colours with L replaced by `gray` (H×W×3). */
  boost: U8Image;
}

interface Plane {
  data: Float32Array;
  width: number;
  height: number;
}

/** `Decolor::gradvector`: x gradients then y gradients, each in transposed (column-major) order. */
function gradVector(p: Plane): Float64Array {
  const { width: w, height: h, data } = p;
  const out = new Float64Array(w * h * 2);
  const offset = w * h;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const i = y * w + x;
      out[x * h + y] = x === w - 1 ? 0 : f32(data[i] - data[i + 1]);
      out[offset + x * h + y] = y === h - 1 ? 0 : f32(data[i] - data[i + w]);
    }
  }
  return out;
}

function planeOf(img: Float32Array, w: number, h: number, c: number): Plane {
  const data = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) data[i] = img[i * 3 + c];
  return { data, width: w, height: h };
}

/** The (r, g, b) exponents in OpenCV's loop order. */
function combinations(): [number, number, number][] {
  const comb: [number, number, number][] = [];
  for (let r = 0; r <= ORDER; r++) for (let g = 0; g <= ORDER; g++) for (let b = 0; b <= ORDER; b++) if (r + g + b <= ORDER && r + g + b > 0) comb.push([r, g, b]);
  return comb;
}

/** The image the analysis steps see (shrunk when h + w > 800). */
function analysisImage(img: Float32Array, w: number, h: number): { data: Float32Array; width: number; height: number } {
  if (h + w <= 800) return { data: img, width: w, height: h };
  const sizefactor = 800 / (h + w);
  const nw = cvRound(w * sizefactor);
  const nh = cvRound(h * sizefactor);
  const full = { data: img, width: w, height: h, channels: 3 };
  const r = nw * 2 === w && nh * 2 === h ? halveAreaF32(full) : resizeLinearF32(full, nw, nh);
  return { data: r.data, width: r.width, height: r.height };
}

function colorGrad(img: Float32Array, w: number, h: number): Float64Array {
  const lab = bgrToLabF32(img);
  const L = gradVector(planeOf(lab, w, h, 0));
  const A = gradVector(planeOf(lab, w, h, 1));
  const B = gradVector(planeOf(lab, w, h, 2));
  const cg = new Float64Array(L.length);
  for (let i = 0; i < cg.length; i++) cg[i] = Math.sqrt(L[i] * L[i] + A[i] * A[i] + B[i] * B[i]) / 100;
  return cg;
}

function weakOrder(img: Float32Array, w: number, h: number): Float64Array {
  const R = gradVector(planeOf(img, w, h, 2));
  const G = gradVector(planeOf(img, w, h, 1));
  const B = gradVector(planeOf(img, w, h, 0));
  const level = 0.05;
  const alf = new Float64Array(R.length);
  for (let i = 0; i < R.length; i++) {
    const pos = R[i] > level && G[i] > level && B[i] > level ? 1 : 0;
    const neg = R[i] < -level && G[i] < -level && B[i] < -level ? 1 : 0;
    alf[i] = pos - neg;
  }
  return alf;
}

/** OpenCV `LUImpl<float>` solving A·X = B in place (B: m rows of n); false when A is singular. */
function luSolveF32(A: Float32Array, m: number, B: Float32Array, n: number): boolean {
  const eps = f32(FLT_EPSILON * 10);
  for (let i = 0; i < m; i++) {
    let k = i;
    for (let j = i + 1; j < m; j++) if (Math.abs(A[j * m + i]) > Math.abs(A[k * m + i])) k = j;
    if (Math.abs(A[k * m + i]) < eps) return false;
    if (k !== i) {
      for (let j = i; j < m; j++) [A[i * m + j], A[k * m + j]] = [A[k * m + j], A[i * m + j]];
      for (let j = 0; j < n; j++) [B[i * n + j], B[k * n + j]] = [B[k * n + j], B[i * n + j]];
    }
    const d = f32(-1 / A[i * m + i]);
    for (let j = i + 1; j < m; j++) {
      const alpha = f32(A[j * m + i] * d);
      for (let c = i + 1; c < m; c++) A[j * m + c] = f32(A[j * m + c] + f32(alpha * A[i * m + c]));
      for (let c = 0; c < n; c++) B[j * n + c] = f32(B[j * n + c] + f32(alpha * B[i * n + c]));
    }
  }
  for (let i = m - 1; i >= 0; i--) {
    for (let j = 0; j < n; j++) {
      let s = B[i * n + j];
      for (let c = i + 1; c < m; c++) s = f32(s - f32(A[i * m + c] * B[c * n + j]));
      B[i * n + j] = f32(s / A[i * m + i]);
    }
  }
  return true;
}

function energy(cg: Float64Array, poly: Float64Array[], wei: Float64Array): number {
  const n = cg.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let val = 0;
    for (let j = 0; j < poly.length; j++) val = val + poly[j][i] * wei[j];
    const t0 = val - cg[i];
    const t1 = val + cg[i];
    sum += -1 * Math.log(Math.exp((-1 * t0 * t0) / SIGMA) + Math.exp((-1 * t1 * t1) / SIGMA));
  }
  return sum / n;
}

/** `cv2.decolor(src)` of an 8-bit 3-channel image (channel 0 taken as blue, as OpenCV does). */
export function decolor(src: U8Image): DecolorResult {
  assertImage(src, 'decolor');
  if (src.channels !== 3) throw new RangeError(`decolor: ${src.channels} channels, expected 3`);
  const { width: W, height: H } = src;
  const inv255 = f32(1 / 255);
  const img = new Float32Array(src.data.length);
  for (let i = 0; i < img.length; i++) img[i] = f32(src.data[i] * inv255);

  const comb = combinations();
  const an = analysisImage(img, W, H);
  const cg = colorGrad(an.data, an.width, an.height);
  const poly: Float64Array[] = [];
  const cur = new Float32Array(an.width * an.height);
  for (const [r, g, b] of comb) {
    for (let i = 0; i < cur.length; i++) cur[i] = an.data[i * 3 + 2] ** r * an.data[i * 3 + 1] ** g * an.data[i * 3] ** b;
    poly.push(gradVector({ data: cur, width: an.width, height: an.height }));
  }
  const alf = weakOrder(an.data, an.width, an.height);

  // Mt = solve(P·Pᵀ, B) with P, B float32; the product accumulates in double.
  const m = poly.length;
  const n = cg.length;
  const P = poly.map((row) => Float32Array.from(row));
  const A = new Float32Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += P[i][k] * P[j][k];
      A[i * m + j] = s;
    }
  }
  const Mt = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) Mt[i * n + j] = poly[i][j] * cg[j];
  // cv::solve zeroes the result when LU fails (a flat image has no gradients at all).
  if (!luSolveF32(A, m, Mt, n)) Mt.fill(0);

  const wei = Float64Array.from(comb, ([r, g, b]) => (r + g + b === 1 ? (r + g + b) * 0.33 : 0));
  const sqSigma = SIGMA * SIGMA;
  let E = 0;
  let preE = Infinity;
  let iter = 0;
  const expTerm = new Float64Array(n);
  while (Math.sqrt((E - preE) ** 2) > TOL) {
    iter += 1;
    preE = E;
    for (let i = 0; i < n; i++) {
      let val = 0;
      for (let j = 0; j < m; j++) val = val + poly[j][i] * wei[j];
      const t0 = val - cg[i];
      const t1 = val + cg[i];
      const pos = ((1 + alf[i]) / 2) * Math.exp((-1 * 0.5 * t0 * t0) / sqSigma);
      const neg = ((1 - alf[i]) / 2) * Math.exp((-1 * 0.5 * t1 * t1) / sqSigma);
      const sum = pos + neg;
      expTerm[i] = (pos - neg) / (sum + (sum === 0 ? 1 : 0));
    }
    const next = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v = v + Mt[i * n + j] * expTerm[j];
      next[i] = v;
    }
    wei.set(next);
    E = energy(cg, poly, wei);
    if (iter > MAX_ITER) break;
  }

  // Gray image on the full-size input.
  const px = W * H;
  const gray = new Float32Array(px);
  comb.forEach(([r, g, b], k) => {
    const wk = f32(wei[k]);
    for (let i = 0; i < px; i++) gray[i] = gray[i] + wk * img[i * 3 + 2] ** r * img[i * 3 + 1] ** g * img[i * 3] ** b;
  });
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < px; i++) {
    if (gray[i] < min) min = gray[i];
    if (gray[i] > max) max = gray[i];
  }
  const minF = f32(min);
  const inv = f32(1 / (max - min));
  const grayU8 = new Uint8Array(px);
  // A flat gray (max = min) divides 0 by 0; OpenCV's NaN → uchar conversion yields 0.
  for (let i = 0; i < px; i++) {
    const v = f32(f32(f32(gray[i] - minF) * inv) * 255);
    grayU8[i] = Number.isNaN(v) ? 0 : saturateU8(v);
  }

  const lab = bgrToLabU8(src.data);
  for (let i = 0; i < px; i++) lab[i * 3] = grayU8[i];
  const boost = labU8ToBgr(lab);
  return { gray: { data: grayU8, width: W, height: H, channels: 1 }, boost: { data: boost, width: W, height: H, channels: 3 } };
}
