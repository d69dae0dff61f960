/**
 * The sinusoidal embedding SDXL uses for timesteps and for its size
 * conditioning: half = dim/2, f_i = exp(-ln(10000)·i/half), emb = [cos(t·f), sin(t·f)]
 * — cos first (golden README §1; the wrong order costs 0.40 in eps).
 * Computed in float32 steps like the PyTorch reference, so size-conditioning
 * values (up to 4096·1.5) stay within the golden tolerance.
 */

export function sinusoidalEmbedding(t: number, dim: number, out = new Float32Array(dim), offset = 0): Float32Array {
  const half = Math.floor(dim / 2);
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const freq = f(Math.exp(f(f(-Math.log(10000)) * f(i)) / half));
    const arg = f(f(t) * freq);
    out[offset + i] = Math.cos(arg);
    out[offset + half + i] = Math.sin(arg);
  }
  return out;
}
