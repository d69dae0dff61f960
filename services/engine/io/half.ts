/**
 * IEEE 754 half-precision conversions. Node 20 has no Float16Array, so fp16
 * tensors travel as Uint16Array bits (onnxruntime-node accepts them so).
 */

/** Exact IEEE half → float32. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → IEEE half bits, round to nearest even. */
export function floatToHalf(v: number): number {
  f32Scratch[0] = v;
  return halfBitsOfFloat32Bits(u32Scratch[0]);
}

/**
 * IEEE half bits of the float32 whose bit pattern is `x`, round to nearest even
 * (overflow → ±inf, NaN kept). Whole-array conversions call this over a Uint32
 * view of their float32 values (lora/float16Arrays.ts).
 */
export function halfBitsOfFloat32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}
