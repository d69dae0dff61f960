/**
 * `torch.linspace` as the CPU kernel computes it, in float32 or float64.
 *
 * Schedules must reproduce the float32 values Fooocus samples with, and an
 * ulp in a linspace value can decide a timestep tie (the distilled
 * `sgm_uniform` at 30 steps lands on t = 509 ± 1 ulp, i.e. index 24.5, and
 * torch's value is the one below 509). torch 1.13 (aten `linspace_kernel`)
 * does not compute `start + i·step`:
 *  - `step = (end − start)/(steps − 1)` in the dtype; the first half is
 *    filled forwards from `start`, the second half backwards from `end`;
 *  - the loop is vectorised (AVX2: 8 floats): 16 elements at a time, each
 *    8-lane vector is `base + k·step` (k = 0..7) from one `base` computed for
 *    its first lane (forwards or backwards by that lane's position), and the
 *    remainder (< 16) runs the scalar formula;
 *  - the kernel is compiled with FMA contraction: the scalar formula
 *    (`start + step·i`, also each vector's `base`) rounds once, while the
 *    lanes `base + k·step` round the product and the sum separately.
 * The float32 path emulates exactly that (the product of two float32 values
 * is exact in float64, so one float64 add and one float32 rounding reproduce
 * the FMA except in double-rounding corner cases). Which operations fuse was
 * settled against the golden data: this combination, and no other, reproduces
 * both README §2.11's timestep ties (the plain 30-step t = 499.5 and the
 * distilled t just below 509) and torch's EDM log grid (the EDM table then
 * matches to the ulp of float32 exp, 897 of 1000 bit-exact; without the fused
 * base 615). The float64 path (only the beta
 * schedule uses it) applies the plain formula: its ulp-level differences from
 * the vector loop vanish when the table is rounded to float32.
 */

export type TorchFloat = 'float32' | 'float64';

const f32 = Math.fround;

/** float32 lanes of an AVX2 vector, the width of torch's vectorised CPU loop on x86-64. */
const FLOAT32_LANES = 8;

/** fma(a, b, c) rounded to float32, for float32 a, b, c. */
function fmaF32(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

function linspaceFloat32(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // Value at position idx by the kernel's scalar formula.
  const at = (idx: number): number => (idx < halfway ? fmaF32(step, idx, s) : fmaF32(-step, steps - idx - 1, e));
  let i = 0;
  for (; i + 2 * FLOAT32_LANES <= steps; i += 2 * FLOAT32_LANES) {
    for (let v = i; v < i + 2 * FLOAT32_LANES; v += FLOAT32_LANES) {
      const base = at(v);
      for (let k = 0; k < FLOAT32_LANES; k++) out[v + k] = f32(base + f32(k * step));
    }
  }
  for (; i < steps; i++) out[i] = at(i);
  return out;
}

function linspaceFloat64(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const step = (end - start) / (steps - 1);
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
  return out;
}

export function torchLinspace(start: number, end: number, steps: number, dtype: TorchFloat): Float64Array {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`torchLinspace: steps must be a non-negative integer, got ${steps}`);
  if (steps === 0) return new Float64Array(0);
  if (steps === 1) return Float64Array.of(dtype === 'float32' ? f32(start) : start);
  return dtype === 'float32' ? linspaceFloat32(start, end, steps) : linspaceFloat64(start, end, steps);
}
