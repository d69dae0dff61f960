/**
 * SDXL's ADM ("label") conditioning vector y.
 *
 * Base: y = [pooled_G | E(orig_h) E(orig_w) E(crop_top) E(crop_left) E(target_h) E(target_w)]
 * with E the 256-wide sinusoid. Fooocus (modules/patch.py, pipeline.md §1.5)
 * computes two variants per prompt and switches between them by timestep:
 * "emphasized" with the original size scaled by the ADM scaler (1.5 for the
 * positive, 0.8 for the negative, truncated to int) while
 * t > 999·(1 − adm_scaler_end), then "consistent" (the 64-rounded size).
 * The SDXL refiner instead takes [pooled | E(h) E(w) E(crop_top) E(crop_left) E(aesthetic)].
 */
import { sinusoidalEmbedding } from './sinusoidalEmbedding.ts';

export const ADM_EMBED_DIM = 256;

export interface SizeConditioning {
  originalHeight: number;
  originalWidth: number;
  cropTop: number;
  cropLeft: number;
  targetHeight: number;
  targetWidth: number;
}

export function sizeEmbedding(values: readonly number[]): Float32Array {
  const out = new Float32Array(values.length * ADM_EMBED_DIM);
  values.forEach((v, i) => sinusoidalEmbedding(v, ADM_EMBED_DIM, out, i * ADM_EMBED_DIM));
  return out;
}

export function sdxlAdm(pooled: Float32Array, size: SizeConditioning): Float32Array {
  const emb = sizeEmbedding([size.originalHeight, size.originalWidth, size.cropTop, size.cropLeft, size.targetHeight, size.targetWidth]);
  const y = new Float32Array(pooled.length + emb.length);
  y.set(pooled, 0);
  y.set(emb, pooled.length);
  return y;
}

export function sdxlRefinerAdm(pooled: Float32Array, height: number, width: number, aestheticScore: number): Float32Array {
  const emb = sizeEmbedding([height, width, 0, 0, aestheticScore]);
  const y = new Float32Array(pooled.length + emb.length);
  y.set(pooled, 0);
  y.set(emb, pooled.length);
  return y;
}

/** Fooocus's round_to_64: Python round(), i.e. halves go to the even multiple (800 → 768). */
export function roundTo64(v: number): number {
  const q = v / 64;
  const r = Math.round(q);
  const half = Math.abs(q - Math.trunc(q)) === 0.5;
  return (half && r % 2 !== 0 ? r - 1 : r) * 64;
}

export interface AdmPair {
  /** Used while t > switchTimestep. */
  emphasized: Float32Array;
  /** Used from then on. */
  consistent: Float32Array;
}

/** Fooocus's timed ADM for one prompt side (scaler 1.5 for positive, 0.8 for negative). */
export function fooocusAdm(pooled: Float32Array, height: number, width: number, scaler: number): AdmPair {
  const h64 = roundTo64(height);
  const w64 = roundTo64(width);
  return {
    emphasized: sdxlAdm(pooled, {
      originalHeight: Math.trunc(height * scaler), originalWidth: Math.trunc(width * scaler),
      cropTop: 0, cropLeft: 0, targetHeight: h64, targetWidth: w64,
    }),
    consistent: sdxlAdm(pooled, {
      originalHeight: h64, originalWidth: w64, cropTop: 0, cropLeft: 0, targetHeight: h64, targetWidth: w64,
    }),
  };
}

/** Timestep above which Fooocus uses the emphasized ADM: 999·(1 − end). */
export const admSwitchTimestep = (admScalerEnd: number): number => 999 * (1 - admScalerEnd);
