/**
 * Multi-head scaled dot-product attention for the UNet's transformer blocks
 * (ldm CrossAttention: to_q/to_k/to_v without bias, to_out.0 with bias,
 * scale 1/sqrt(head_dim), no mask).
 *
 * Plain MatMul/Softmax: portable to every execution provider, and ORT's CPU
 * optimizer fuses what it can. q is scaled *before* the score MatMul: for the
 * 64-wide heads of SDXL the factor is 1/8, exact in fp16, and it keeps fp16
 * scores 8× further from overflow than scaling afterwards. Softmax subtracts
 * the row max, so it is safe in fp16 once the scores themselves are finite.
 *
 * This is also where IP-Adapter's image K/V join the text K/V, along the
 * token axis before the single softmax (pipeline.md §3.5, unetIpAdapter.ts).
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';
import { linear } from '../onnx/layers.ts';

/** q: [B,T,heads·headDim], k/v: [B,S,heads·headDim] → [B,T,heads·headDim]. */
export function scaledDotProductAttention(g: GraphBuilder, q: string, k: string, v: string, heads: number, headDim: number): string {
  const split = (t: string) => g.op('Reshape', [t, g.constInt64([0, 0, heads, headDim])]);
  const qs = g.op('Mul', [q, g.constScalar(1 / Math.sqrt(headDim), 'attn_scale')]);
  const qh = g.op('Transpose', [split(qs)], { perm: [0, 2, 1, 3] }); // [B,H,T,D]
  const kt = g.op('Transpose', [split(k)], { perm: [0, 2, 3, 1] }); // [B,H,D,S]
  const vh = g.op('Transpose', [split(v)], { perm: [0, 2, 1, 3] }); // [B,H,S,D]
  const probs = g.op('Softmax', [g.op('MatMul', [qh, kt])], { axis: -1 });
  const out = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [out, g.constInt64([0, 0, heads * headDim])]);
}

/** Extra keys/values [B, N, heads·headDim] appended after the projected ones (IP-Adapter). */
export interface ExtraKv {
  k: string;
  v: string;
}

/**
 * One ldm CrossAttention module at `prefix` (`...attn1` or `...attn2`).
 * `kv` is x itself for self-attention, the text context for cross-attention;
 * `extra` (default none) is concatenated after its K and V.
 */
export function attentionModule(g: GraphBuilder, x: string, kv: string, prefix: string, heads: number, headDim: number, extra?: ExtraKv): string {
  const q = linear(g, x, `${prefix}.to_q`, { bias: false });
  let k = linear(g, kv, `${prefix}.to_k`, { bias: false });
  let v = linear(g, kv, `${prefix}.to_v`, { bias: false });
  if (extra) {
    k = g.op('Concat', [k, extra.k], { axis: 1 });
    v = g.op('Concat', [v, extra.v], { axis: 1 });
  }
  return linear(g, scaledDotProductAttention(g, q, k, v, heads, headDim), `${prefix}.to_out.0`);
}
