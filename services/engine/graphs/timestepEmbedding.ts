/**
 * Sinusoidal timestep embedding, computed inside the graph from float
 * timesteps (ldm `timestep_embedding(t, dim)`, repeat_only=False):
 *
 *   half = dim/2,  f_i = exp(-ln(10000) · i / half),  emb = [cos(t·f), sin(t·f)]
 *
 * Cos comes first (the `[sin, cos]` order is off by 0.40 on eps). It is always
 * float32, also in fp16 graphs: t·f reaches ~1000 rad, where fp16 keeps no
 * fractional digits at all. Timesteps may be fractional (interpolated sigma→t,
 * EDM), so they enter as floats, not int64 indices.
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';

/** The frequencies as float32, in the order of operations of the float32 reference. */
export function timestepFrequencies(dim: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(half);
  const c = Math.fround(-Math.log(maxPeriod));
  for (let i = 0; i < half; i++) out[i] = Math.exp(Math.fround(Math.fround(c * i) / half));
  return out;
}

/**
 * `t` is a float32 [B] value; returns float32 [B, dim]. `dim` is the UNet's
 * model_channels, always even (a multiple of GroupNorm's 32 groups), so the
 * reference's zero column for odd widths never arises.
 */
export function sinusoidalEmbedding(g: GraphBuilder, t: string, dim: number): string {
  if (dim % 2 !== 0) throw new Error(`timestep embedding width ${dim} is odd`);
  const freqs = g.constF32(timestepFrequencies(dim), [1, Math.floor(dim / 2)], 'temb_freqs');
  const args = g.op('Mul', [g.op('Unsqueeze', [t, g.constInt64([1])]), freqs]);
  return g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: 1 });
}
