/**
 * ldm SpatialTransformer and BasicTransformerBlock (ldm/modules/attention.py):
 *
 *   x_in = x;  x = GN(x, eps 1e-6);  [proj_in as 1x1 conv];  x → [B, HW, C];  [proj_in as Linear]
 *   per block:  x += attn1(LN1(x));  x += attn2(LN2(x), context);  x += ff(LN3(x))
 *   [proj_out as Linear];  → [B, C, H, W];  [proj_out as 1x1 conv];  return x + x_in
 *
 * SDXL uses the Linear projections (`use_linear_in_transformer`); the conv form
 * is kept because it costs two lines and the config can say so. The norm's
 * eps is 1e-6 (not GroupNorm's default) and LayerNorms use 1e-5.
 * FF is GEGLU: `ff.net.0.proj` → (value, gate) halves → value · gelu(gate) →
 * `ff.net.2`, exact erf GELU (a tanh GELU is off by 4.3e-4 on eps).
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';
import { conv2d, gelu, groupNorm, layerNorm, linear } from '../onnx/layers.ts';
import { attentionModule, type ExtraKv } from './unetAttention.ts';
import type { TransformerLayout } from './unetLayout.ts';

export const TRANSFORMER_GN_EPS = 1e-6;
export const TRANSFORMER_LN_EPS = 1e-5;

/**
 * `x` is [B, C, H, W]; `context` is [B, S, contextDim]. `attn2Extra(b)`
 * (default none) gives block b's attn2 extra K/V (IP-Adapter).
 */
export function spatialTransformer(g: GraphBuilder, x: string, context: string, t: TransformerLayout, useLinear: boolean, attn2Extra?: (block: number) => ExtraKv | undefined): string {
  const p = t.prefix;
  let h = groupNorm(g, x, `${p}.norm`, t.channels, TRANSFORMER_GN_EPS);
  if (!useLinear) h = conv2d(g, h, `${p}.proj_in`);
  h = g.op('Transpose', [g.op('Reshape', [h, g.constInt64([0, 0, -1])])], { perm: [0, 2, 1] }); // [B, HW, C]
  if (useLinear) h = linear(g, h, `${p}.proj_in`);
  for (let b = 0; b < t.depth; b++) h = basicTransformerBlock(g, h, context, `${p}.transformer_blocks.${b}`, t, attn2Extra?.(b));
  if (useLinear) h = linear(g, h, `${p}.proj_out`);
  // Back to NCHW with x's batch and spatial size (the width is innerDim before a conv proj_out).
  const xShape = g.op('Shape', [x]);
  const width = useLinear ? t.channels : t.innerDim;
  const nchw = g.op('Concat', [
    g.op('Slice', [xShape, g.constInt64([0]), g.constInt64([1])]),
    g.constInt64([width]),
    g.op('Slice', [xShape, g.constInt64([2]), g.constInt64([4])]),
  ], { axis: 0 });
  h = g.op('Reshape', [g.op('Transpose', [h], { perm: [0, 2, 1] }), nchw]);
  if (!useLinear) h = conv2d(g, h, `${p}.proj_out`);
  return g.op('Add', [h, x]);
}

function basicTransformerBlock(g: GraphBuilder, x: string, context: string, p: string, t: TransformerLayout, attn2Extra?: ExtraKv): string {
  const n1 = layerNorm(g, x, `${p}.norm1`, TRANSFORMER_LN_EPS);
  x = g.op('Add', [x, attentionModule(g, n1, n1, `${p}.attn1`, t.heads, t.headDim)]);
  const n2 = layerNorm(g, x, `${p}.norm2`, TRANSFORMER_LN_EPS);
  x = g.op('Add', [x, attentionModule(g, n2, context, `${p}.attn2`, t.heads, t.headDim, attn2Extra)]);
  const n3 = layerNorm(g, x, `${p}.norm3`, TRANSFORMER_LN_EPS);
  return g.op('Add', [x, geglu(g, n3, `${p}.ff`, t.ffDim)]);
}

/** GEGLU feed-forward: first half of `net.0.proj` is the value, second half the gate. */
function geglu(g: GraphBuilder, x: string, p: string, hidden: number): string {
  const [value, gate] = g.opMulti('Split', [linear(g, x, `${p}.net.0.proj`), g.constInt64([hidden, hidden])], 2, { axis: -1 });
  return linear(g, g.op('Mul', [value, gelu(g, gate)]), `${p}.net.2`);
}
