/**
 * The three L*a*b* conversions `cv2.decolor` makes, as OpenCV 4.6.0's
 * imgproc/src/color_lab.cpp computes them (D65, sRGB gamma, channel order
 * B, G, R as OpenCV assumes — Fooocus hands it RGB arrays, and the port,
 * like OpenCV, simply treats index 0 as blue):
 *
 * - `bgrToLabF32` (float32 in [0, 1]): OpenCV does not evaluate the formula
 *   per pixel; it rounds each channel to 1/16384, trilinearly interpolates a
 *   33³ int16 table of (L/100, (a+128)/256, (b+128)/256)·16384 built with
 *   float32 arithmetic, and rescales (`RGB2Lab_f` with `useInterpolation`).
 * - `bgrToLabU8`: the integer path (`RGB2Lab_b`): 8-bit gamma table scaled
 *   by 8, 12-bit XYZ coefficients, a cube-root table with 15 fractional
 *   bits; L scaled by 255/100, a and b offset by 128.
 * - `labU8ToBgr`: the bit-exact integer path (`Lab2RGBinteger`): Y and f(Y)
 *   per L from a table, a/500 and b/200 by multiply-shift approximations,
 *   f⁻¹ from a table, 12-bit XYZ→RGB coefficients, a 4096-entry inverse
 *   gamma table.
 *
 * OpenCV builds its tables with softfloat (IEEE float32) and softdouble;
 * here float32 steps use `Math.fround` and double steps plain numbers.
 */
import { cvRound, f32 } from './cvImage.ts';

// 0.950456, 1, 1.088754
const D65 = [0.950456, 1, 1.088754];
const SRGB2XYZ = [0.412453, 0.35758, 0.180423, 0.212671, 0.71516, 0.072169, 0.019334, 0.119193, 0.950227];
const XYZ2SRGB = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];

const LTHRESH = f32(f32(216) / f32(24389));
const LSCALE = f32(f32(841) / f32(108));
const LBIAS = f32(f32(16) / f32(116));

const GAMMA_THRESHOLD = 809 / 20000;
const GAMMA_INV_THRESHOLD = 7827 / 2500000;
const GAMMA_LOW_SCALE = 323 / 25;
const GAMMA_POWER = 12 / 5;
const GAMMA_X_SHIFT = 11 / 200;

function applyGamma(x: number): number {
  return f32(x <= GAMMA_THRESHOLD ? x / GAMMA_LOW_SCALE : Math.pow((x + GAMMA_X_SHIFT) / (1 + GAMMA_X_SHIFT), GAMMA_POWER));
}

function applyInvGamma(x: number): number {
  return f32(x <= GAMMA_INV_THRESHOLD ? x * GAMMA_LOW_SCALE : Math.pow(x, 1 / GAMMA_POWER) * (1 + GAMMA_X_SHIFT) - GAMMA_X_SHIFT);
}

const cbrtF = (x: number): number => f32(Math.cbrt(x));
/** softfloat `mulAdd` (fused: one rounding). */
const mulAddF = (a: number, b: number, c: number): number => f32(a * b + c);
const descale = (x: number, n: number): number => (x + (1 << (n - 1))) >> n;

// ---------------------------------------------------------------- float path

const LAB_LUT_DIM = 33;
const LAB_BASE = 1 << 14;
let labLut: Int16Array | undefined;

/** `initLUTforLABLUVs16`'s Lab half: 33³ grid indexed [r][q][p]·3, p along channel 0 (blue). */
function rgb2LabLut(): Int16Array {
  if (labLut) return labLut;
  const scaleWhite = [1 / D65[0], 1, 1 / D65[2]];
  const S: number[] = [];
  for (let i = 0; i < 3; i++) {
    S[i * 3] = f32(SRGB2XYZ[i * 3 + 2] * scaleWhite[i]);
    S[i * 3 + 1] = f32(SRGB2XYZ[i * 3 + 1] * scaleWhite[i]);
    S[i * 3 + 2] = f32(SRGB2XYZ[i * 3] * scaleWhite[i]);
  }
  const lld = f32(LAB_LUT_DIM - 1);
  const f9033 = f32(f32(29 * 29 * 29) / f32(27));
  const lbase = f32(LAB_BASE);
  const lut = new Int16Array(LAB_LUT_DIM * LAB_LUT_DIM * LAB_LUT_DIM * 3);
  const fx = (v: number) => (v > LTHRESH ? cbrtF(v) : mulAddF(v, LSCALE, LBIAS));
  for (let p = 0; p < LAB_LUT_DIM; p++) {
    for (let q = 0; q < LAB_LUT_DIM; q++) {
      for (let r = 0; r < LAB_LUT_DIM; r++) {
        const R = applyGamma(f32(p / lld));
        const G = applyGamma(f32(q / lld));
        const B = applyGamma(f32(r / lld));
        const X = f32(f32(f32(R * S[0]) + f32(G * S[1])) + f32(B * S[2]));
        const Y = f32(f32(f32(R * S[3]) + f32(G * S[4])) + f32(B * S[5]));
        const Z = f32(f32(f32(R * S[6]) + f32(G * S[7])) + f32(B * S[8]));
        const FX = fx(X);
        const FY = fx(Y);
        const FZ = fx(Z);
        const L = Y > LTHRESH ? f32(f32(116 * FY) - 16) : f32(f9033 * Y);
        const a = f32(500 * f32(FX - FY));
        const b = f32(200 * f32(FY - FZ));
        const idx = (p + q * LAB_LUT_DIM + r * LAB_LUT_DIM * LAB_LUT_DIM) * 3;
        lut[idx] = cvRound(f32(f32(lbase * L) / 100));
        lut[idx + 1] = cvRound(f32(f32(lbase * f32(a + 128)) / 256));
        lut[idx + 2] = cvRound(f32(f32(lbase * f32(b + 128)) / 256));
      }
    }
  }
  labLut = lut;
  return lut;
}

/** `trilinearInterpolate`: 4-bit fractions, weights summing to 4096. */
function trilinear(lut: Int16Array, cx: number, cy: number, cz: number, out: Int32Array): void {
  const tx = cx >> 9;
  const ty = cy >> 9;
  const tz = cz >> 9;
  const x = (cx >> 5) & 15;
  const y = (cy >> 5) & 15;
  const z = (cz >> 5) & 15;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  for (let dp = 0; dp < 2; dp++) {
    const wp = dp ? x : 16 - x;
    const px = Math.min(tx + dp, LAB_LUT_DIM - 1);
    for (let dq = 0; dq < 2; dq++) {
      const wq = dq ? y : 16 - y;
      const qy = Math.min(ty + dq, LAB_LUT_DIM - 1);
      for (let dr = 0; dr < 2; dr++) {
        const w = wp * wq * (dr ? z : 16 - z);
        const rz = Math.min(tz + dr, LAB_LUT_DIM - 1);
        const idx = (px + qy * LAB_LUT_DIM + rz * LAB_LUT_DIM * LAB_LUT_DIM) * 3;
        s0 += lut[idx] * w;
        s1 += lut[idx + 1] * w;
        s2 += lut[idx + 2] * w;
      }
    }
  }
  out[0] = descale(s0, 12);
  out[1] = descale(s1, 12);
  out[2] = descale(s2, 12);
}

/** `cvtColor(img32f, COLOR_BGR2Lab)`: HWC float32 BGR in [0, 1] → L in [0, 100], a, b. */
export function bgrToLabF32(src: Float32Array): Float32Array {
  const lut = rgb2LabLut();
  const out = new Float32Array(src.length);
  const t = new Int32Array(3);
  const clip = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
  for (let i = 0; i < src.length; i += 3) {
    const c0 = cvRound(f32(clip(src[i]) * LAB_BASE));
    const c1 = cvRound(f32(clip(src[i + 1]) * LAB_BASE));
    const c2 = cvRound(f32(clip(src[i + 2]) * LAB_BASE));
    trilinear(lut, c0, c1, c2, t);
    out[i] = f32(f32(t[0] / LAB_BASE) * 100);
    out[i + 1] = f32(f32(f32(t[1] / LAB_BASE) * 256) - 128);
    out[i + 2] = f32(f32(f32(t[2] / LAB_BASE) * 256) - 128);
  }
  return out;
}

// ---------------------------------------------------------------- 8-bit paths

const LAB_SHIFT = 12;
const GAMMA_SHIFT = 3;
const LAB_SHIFT2 = LAB_SHIFT + GAMMA_SHIFT;
const LAB_CBRT_TAB_SIZE_B = (256 * 3 / 2) * (1 << GAMMA_SHIFT);
const INV_GAMMA_TAB_SIZE = 1 << 12;
const LUT_BASE = 1 << 14;
const MIN_AB_VALUE = -8145;

interface Tables8 {
  gamma: Uint16Array;
  cbrt: Uint16Array;
  invGamma: Uint16Array;
  labToYF: Uint16Array;
  abToXZ: Int32Array;
  toLab: number[];
  fromLab: number[];
}
let tables8: Tables8 | undefined;

function labTables8(): Tables8 {
  if (tables8) return tables8;
  const f255 = 255;
  const gamma = new Uint16Array(256);
  const intScale = f32(255 * (1 << GAMMA_SHIFT));
  for (let i = 0; i < 256; i++) gamma[i] = cvRound(f32(intScale * applyGamma(f32(i / f255))));
  const invGamma = new Uint16Array(INV_GAMMA_TAB_SIZE);
  const invScale = f32(1 / INV_GAMMA_TAB_SIZE);
  for (let i = 0; i < INV_GAMMA_TAB_SIZE; i++) invGamma[i] = cvRound(f32(f255 * applyInvGamma(f32(invScale * i))));
  const cbrt = new Uint16Array(LAB_CBRT_TAB_SIZE_B);
  const cbTabScale = f32(1 / f32(f255 * (1 << GAMMA_SHIFT)));
  const lshift2 = 1 << LAB_SHIFT2;
  for (let i = 0; i < LAB_CBRT_TAB_SIZE_B; i++) {
    const x = f32(cbTabScale * i);
    cbrt[i] = cvRound(f32(lshift2 * (x < LTHRESH ? mulAddF(x, LSCALE, LBIAS) : cbrtF(x))));
  }
  const labToYF = new Uint16Array(512);
  for (let i = 0; i < 256; i++) {
    let y: number;
    let ify: number;
    if (i <= 20) {
      y = cvRound(f32(f32(i * LUT_BASE * 20 * 9) / f32(17 * 29 * 29 * 29)));
      ify = cvRound(f32(f32(LUT_BASE) * f32(f32(f32(16) / f32(116)) + f32(f32(i * 5) / f32(3 * 17 * 29)))));
    } else {
      const fy = f32(f32(f32(i * 100 * LUT_BASE) / f32(255 * 116)) + f32(f32(16 * LUT_BASE) / f32(116)));
      ify = cvRound(fy);
      y = cvRound(f32(f32(f32(fy * fy) * fy) / f32(LUT_BASE * LUT_BASE)));
    }
    labToYF[i * 2] = y;
    labToYF[i * 2 + 1] = ify;
  }
  const abToXZ = new Int32Array((LUT_BASE * 9) / 4);
  for (let i = MIN_AB_VALUE; i < (LUT_BASE * 9) / 4 + MIN_AB_VALUE; i++) {
    // C integer arithmetic: truncating division, 32-bit products.
    const v = i <= 3390 ? Math.trunc((i * 108) / 841) - Math.trunc(Math.trunc(Math.trunc((LUT_BASE * 16) / 116) * 108) / 841) : Math.trunc(Math.trunc(Math.trunc((i * i) / LUT_BASE) * i) / LUT_BASE);
    abToXZ[i - MIN_AB_VALUE] = v;
  }
  // RGB2Lab_b coefficients for blueIdx 0: row i = (B, G, R) weights of X, Y, Z scaled by 2^12 / white.
  const toLab: number[] = [];
  for (let i = 0; i < 3; i++) {
    toLab[i * 3 + 2] = cvRound(((1 << LAB_SHIFT) * SRGB2XYZ[i * 3]) / D65[i]);
    toLab[i * 3 + 1] = cvRound(((1 << LAB_SHIFT) * SRGB2XYZ[i * 3 + 1]) / D65[i]);
    toLab[i * 3] = cvRound(((1 << LAB_SHIFT) * SRGB2XYZ[i * 3 + 2]) / D65[i]);
  }
  // Lab2RGBinteger coefficients for blueIdx 0: rows (R, G, B) of XYZ→sRGB times white, 2^12.
  const fromLab: number[] = [];
  for (let i = 0; i < 3; i++) {
    fromLab[i] = cvRound((1 << LAB_SHIFT) * XYZ2SRGB[i] * D65[i]);
    fromLab[i + 3] = cvRound((1 << LAB_SHIFT) * XYZ2SRGB[i + 3] * D65[i]);
    fromLab[i + 6] = cvRound((1 << LAB_SHIFT) * XYZ2SRGB[i + 6] * D65[i]);
  }
  tables8 = { gamma, cbrt, invGamma, labToYF, abToXZ, toLab, fromLab };
  return tables8;
}

const sat8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** `cvtColor(img8, COLOR_BGR2Lab)`: HWC bytes B, G, R → L·255/100, a+128, b+128. */
export function bgrToLabU8(src: Uint8Array): Uint8Array {
  const t = labTables8();
  const C = t.toLab;
  const Lscale = Math.trunc((116 * 255 + 50) / 100);
  const Lshift = -Math.trunc((16 * 255 * (1 << LAB_SHIFT2) + 50) / 100);
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const B = t.gamma[src[i]];
    const G = t.gamma[src[i + 1]];
    const R = t.gamma[src[i + 2]];
    const fX = t.cbrt[descale(B * C[0] + G * C[1] + R * C[2], LAB_SHIFT)];
    const fY = t.cbrt[descale(B * C[3] + G * C[4] + R * C[5], LAB_SHIFT)];
    const fZ = t.cbrt[descale(B * C[6] + G * C[7] + R * C[8], LAB_SHIFT)];
    out[i] = sat8(descale(Lscale * fY + Lshift, LAB_SHIFT2));
    out[i + 1] = sat8(descale(500 * (fX - fY) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2));
    out[i + 2] = sat8(descale(200 * (fY - fZ) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2));
  }
  return out;
}

/** `cvtColor(lab8, COLOR_Lab2BGR)`: the inverse, bytes in, bytes B, G, R out. */
export function labU8ToBgr(src: Uint8Array): Uint8Array {
  const t = labTables8();
  const C = t.fromLab;
  const BASE = 1 << 14;
  const shift = LAB_SHIFT + (14 - 12);
  const out = new Uint8Array(src.length);
  const clampTab = (v: number) => (v < 0 ? 0 : v > INV_GAMMA_TAB_SIZE - 1 ? INV_GAMMA_TAB_SIZE - 1 : v);
  for (let i = 0; i < src.length; i += 3) {
    const LL = src[i];
    const aa = src[i + 1];
    const bb = src[i + 2];
    const y = t.labToYF[LL * 2];
    const ify = t.labToYF[LL * 2 + 1];
    const adiv = ((5 * aa * 53687 + (1 << 7)) >> 13) - Math.trunc((128 * BASE) / 500);
    const bdiv = ((bb * 41943 + (1 << 4)) >> 9) - Math.trunc((128 * BASE) / 200) + 1;
    const x = t.abToXZ[ify + adiv - MIN_AB_VALUE];
    const z = t.abToXZ[ify - bdiv - MIN_AB_VALUE];
    const ro = t.invGamma[clampTab(descale(C[0] * x + C[1] * y + C[2] * z, shift))];
    const go = t.invGamma[clampTab(descale(C[3] * x + C[4] * y + C[5] * z, shift))];
    const bo = t.invGamma[clampTab(descale(C[6] * x + C[7] * y + C[8] * z, shift))];
    out[i] = sat8(bo);
    out[i + 1] = sat8(go);
    out[i + 2] = sat8(ro);
  }
  return out;
}
