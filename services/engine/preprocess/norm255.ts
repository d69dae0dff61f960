/**
 * Fooocus `extras/preprocessors.norm255` and the numpy percentile it calls.
 *
 * `np.percentile(x, q)` (numpy 1.24, method "linear") on a float32 array:
 * virtual index `(n−1)·q/100`, the two order statistics around it and
 * numpy's `_lerp`, which for `t ≥ 0.5` interpolates from the upper value
 * (`b − (b−a)(1−t)`) so the result is monotone. The percentile comes out as
 * a float64 scalar; `x -= v_min` then casts it to float32 (value-based
 * casting keeps the float32 array loop), and `x /= v_max − v_min` divides
 * by the float64 difference cast to float32. `x * 255.0` stays float32.
 *
 * `toU8` is `.clip(0, 255).astype(np.uint8)`: truncation toward zero.
 */
import { f32 } from './cvImage.ts';

/** `np.percentile(values, q)` with linear interpolation (float64 result). */
export function percentileLinear(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of an empty array');
  const sorted = Float64Array.from(values).sort();
  const virtual = (n - 1) * (q / 100);
  const lo = Math.max(0, Math.min(n - 1, Math.floor(virtual)));
  const hi = Math.min(n - 1, lo + 1);
  const t = virtual - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** `norm255(x, low, high)` on a float32 map: `(x − p_low)/(p_high − p_low)·255` in float32. */
export function norm255(x: Float32Array, low: number, high: number): Float32Array {
  const vMin = percentileLinear(x, low);
  const vMax = percentileLinear(x, high);
  const minF = f32(vMin);
  const range = f32(vMax - vMin);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32(f32(f32(x[i] - minF) / range) * 255);
  return out;
}

/** `.clip(0, 255).astype(np.uint8)`; NaN (a flat map: p_high = p_low) becomes 0. */
export function clipToU8(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = v > 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
  }
  return out;
}
