/**
 * ldm ResBlock (openaimodel.py, use_scale_shift_norm=False, no up/down):
 *
 *   h = in_layers.2(SiLU(GN(x)));  h += emb_layers.1(SiLU(emb))[:, :, None, None]
 *   h = out_layers.3(SiLU(GN(h)));  return skip(x) + h
 *
 * GroupNorm eps is 1e-5 here (torch's default), unlike the transformers' 1e-6.
 * SiLU(emb) is the same for every block, so the caller computes it once and
 * passes it in (`embAct`), saving one Sigmoid·Mul per ResBlock.
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';
import { conv2d, groupNorm, linear, silu } from '../onnx/layers.ts';
import type { ResBlockLayout } from './unetLayout.ts';

export const RESBLOCK_GN_EPS = 1e-5;

/** `x` is [B, inChannels, H, W]; `embAct` is SiLU(emb) [B, timeEmbedDim]. */
export function resBlock(g: GraphBuilder, x: string, embAct: string, r: ResBlockLayout): string {
  let h = conv2d(g, silu(g, groupNorm(g, x, `${r.prefix}.in_layers.0`, r.inChannels, RESBLOCK_GN_EPS)), `${r.prefix}.in_layers.2`);
  const e = g.op('Unsqueeze', [linear(g, embAct, `${r.prefix}.emb_layers.1`), g.constInt64([2, 3])]);
  h = g.op('Add', [h, e]);
  h = conv2d(g, silu(g, groupNorm(g, h, `${r.prefix}.out_layers.0`, r.outChannels, RESBLOCK_GN_EPS)), `${r.prefix}.out_layers.3`);
  // Identity skip when the width is unchanged; a 1x1 conv otherwise (use_conv=False).
  const skip = r.inChannels === r.outChannels ? x : conv2d(g, x, `${r.prefix}.skip_connection`);
  return g.op('Add', [skip, h]);
}
