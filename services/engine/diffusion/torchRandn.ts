/**
 * `torch.randn(shape, generator=torch.manual_seed(seed))` of the PyTorch CPU
 * generator, reproduced so a Fooocus seed gives the same initial noise here
 * as in Fooocus/ComfyUI (`prepare_noise` draws on the CPU generator).
 *
 * What torch 1.13 does (aten CPUGeneratorImpl.cpp, core/MT19937RNGEngine.h,
 * core/DistributionsHelper.h, core/TransformationHelper.h,
 * native/cpu/DistributionTemplates.h `normal_kernel` / `normal_fill`):
 *  - `manual_seed(seed)` builds an MT19937 from the 64-bit seed, but
 *    `mt19937::init_with_uint32` keeps only its low 32 bits (2^32 seeds the
 *    same stream as 0; the golden seeds 2^32 and 2^63-1 check this).
 *  - float tensors with >= 16 contiguous elements take `normal_fill`: every
 *    element first gets a uniform `(random() & 0xFFFFFF) / 2^24` (one 32-bit
 *    draw each), then each block of 16 is Box-Muller transformed in place,
 *    pairing element j with j+8: `r = sqrt(-2 ln(1 - u_j))`, `θ = 2π u_{j+8}`,
 *    `out_j = r cos θ`, `out_{j+8} = r sin θ`. If the size is not a multiple
 *    of 16, the last 16 elements draw 16 *fresh* uniforms and are transformed
 *    again, overwriting the tail of the last full block.
 *  - smaller tensors take the scalar path: `normal_distribution<double>`,
 *    uniforms from `random64()` (two 32-bit draws, first one high) masked to
 *    53 bits / 2^53; `u1` gives θ, `u2` gives the radius; it returns r cos θ and
 *    caches r sin θ in the generator for the next element (so 7 elements use
 *    4 pairs).
 * The block path runs in float32 (AVX2 `log256_ps`/`sincos256_ps` or libm
 * float); it is emulated here with float64 libm rounded to float32 at the
 * same points, which agrees to an ulp or two (golden tolerance 1e-6).
 */

const MT_N = 624;
const MT_M = 397;

/** MT19937 as `std::mt19937` / `at::mt19937` (32-bit outputs). */
class Mt19937 {
  private readonly state = new Uint32Array(MT_N);
  private index = MT_N;

  constructor(seed32: number) {
    const s = this.state;
    s[0] = seed32 >>> 0;
    for (let j = 1; j < MT_N; j++) {
      const prev = s[j - 1] ^ (s[j - 1] >>> 30);
      s[j] = (Math.imul(1812433253, prev) + j) >>> 0;
    }
  }

  nextUint32(): number {
    if (this.index >= MT_N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let k = 0; k < MT_N; k++) {
      const y = (s[k] & 0x80000000) | (s[(k + 1) % MT_N] & 0x7fffffff);
      let v = s[(k + MT_M) % MT_N] ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      s[k] = v >>> 0;
    }
    this.index = 0;
  }
}

/** torch's `uniform_real_distribution<float>(0, 1)`: 24 random bits of one 32-bit draw. */
function uniformFloat(mt: Mt19937): number {
  return (mt.nextUint32() & 0xffffff) / 0x1000000;
}

/** torch's `uniform_real_distribution<double>(0, 1)`: 53 random bits of `random64()`. */
function uniformDouble(mt: Mt19937): number {
  const hi = mt.nextUint32() & 0x1fffff;
  const lo = mt.nextUint32();
  return (hi * 0x100000000 + lo) / 2 ** 53;
}

const f32 = Math.fround;
/** `2.0f * c10::pi<double>` as stored in the float32 vector constant. */
const TWO_PI_F32 = f32(2 * Math.PI);

/** Box-Muller over one 16-element block of uniforms, in place (float32 steps). */
function normalFill16(data: Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - data[offset + j]);
    const u2 = data[offset + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u1)))));
    const theta = f32(TWO_PI_F32 * u2);
    data[offset + j] = f32(radius * f32(Math.cos(theta)));
    data[offset + j + 8] = f32(radius * f32(Math.sin(theta)));
  }
}

function blockPath(mt: Mt19937, size: number): Float32Array {
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = uniformFloat(mt);
  for (let i = 0; i + 16 <= size; i += 16) normalFill16(data, i);
  if (size % 16 !== 0) {
    const tail = size - 16;
    for (let i = 0; i < 16; i++) data[tail + i] = uniformFloat(mt);
    normalFill16(data, tail);
  }
  return data;
}

/** The generator's cached second Box-Muller value (torch `next_double_normal_sample`). */
interface NormalCache {
  value: number | null;
}

function scalarPath(mt: Mt19937, size: number, cache: NormalCache = { value: null }): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    if (cache.value !== null) {
      out[i] = cache.value;
      cache.value = null;
      continue;
    }
    const u1 = uniformDouble(mt);
    const u2 = uniformDouble(mt);
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    cache.value = r * Math.sin(theta);
    out[i] = r * Math.cos(theta);
  }
  return out;
}

/**
 * A torch CPU generator kept across draws: `g = torch.Generator().manual_seed(seed)`,
 * then successive `torch.randn(shape, generator=g)` calls continue its stream
 * (Fooocus' inpaint energy noise draws this way, F modules/patch.py
 * patched_KSamplerX0Inpaint_forward). The first draw equals `torchRandn(shape, seed)`.
 */
export class TorchGenerator {
  private readonly mt: Mt19937;
  private readonly cache: NormalCache = { value: null };

  constructor(seed: bigint) {
    this.mt = new Mt19937(Number(BigInt.asUintN(32, seed)));
  }

  randn(shape: readonly number[]): Float32Array {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`torchRandn: invalid shape [${shape.join(', ')}]`);
    return size >= 16 ? blockPath(this.mt, size) : scalarPath(this.mt, size, this.cache);
  }
}

/**
 * Standard normal float32 tensor (flat, row-major) exactly as
 * `torch.randn(shape, generator=torch.manual_seed(seed))` on the CPU.
 * `seed` is taken modulo 2^64 as torch's `manual_seed` does for non-negative seeds.
 */
export function torchRandn(shape: readonly number[], seed: bigint): Float32Array {
  return new TorchGenerator(seed).randn(shape);
}
