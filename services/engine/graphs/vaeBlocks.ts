/**
 * The ldm VAE's building blocks (`ldm/modules/diffusionmodules/model.py`):
 * ResnetBlock, the single-head AttnBlock, Downsample, Upsample and the middle
 * block shared by encoder and decoder. Each takes the key prefix of its
 * weights relative to `first_stage_model.` and NCHW values.
 *
 * Every GroupNorm uses the VAE's eps (1e-6). Getting it wrong (1e-5) moves
 * outputs by only ~1.5e-5, below the golden tolerances, so it is a parameter
 * from VaeConfig rather than something a test would catch.
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';
import { attention, conv2d, groupNorm, silu, upsampleNearest2x } from '../onnx/layers.ts';

/** GN → SiLU → conv1 → GN → SiLU → conv2, plus the input (through `nin_shortcut` 1x1 when widths differ). */
export function resnetBlock(g: GraphBuilder, x: string, p: string, eps: number): string {
  const inCh = g.weightShape(`${p}.conv1.weight`)[1];
  const outCh = g.weightShape(`${p}.conv1.weight`)[0];
  let h = conv2d(g, silu(g, groupNorm(g, x, `${p}.norm1`, inCh, eps)), `${p}.conv1`);
  // Dropout is identity at inference; the VAE has no timestep embedding (temb_ch = 0).
  h = conv2d(g, silu(g, groupNorm(g, h, `${p}.norm2`, outCh, eps)), `${p}.conv2`);
  let skip = x;
  if (g.hasWeight(`${p}.nin_shortcut.weight`)) skip = conv2d(g, x, `${p}.nin_shortcut`);
  else if (g.hasWeight(`${p}.conv_shortcut.weight`)) skip = conv2d(g, x, `${p}.conv_shortcut`);
  return g.op('Add', [skip, h]);
}

/**
 * Single-head self-attention over all H·W positions, scale 1/sqrt(C), q/k/v
 * and proj_out as 1x1 convs, residual. Weights stored as Linear [C,C] (some
 * diffusers-converted files) are reshaped to [C,C,1,1] in-graph; ORT folds it.
 *
 * Memory: the score matrix is (H·W)², e.g. 16384² fp32 = 1 GiB for a 1024²
 * SDXL image (128² latent); ComfyUI's "vanilla" attention has the same peak.
 */
export function attnBlock(g: GraphBuilder, x: string, p: string, eps: number): string {
  const C = g.weightShape(`${p}.norm.weight`)[0];
  const h = groupNorm(g, x, `${p}.norm`, C, eps);
  const shapeX = g.op('Shape', [x]);
  // [B,C,H,W] → [B,HW,C]
  const toSeq = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.constInt64([0, C, -1])])], { perm: [0, 2, 1] });
  const q = toSeq(pointwise(g, h, `${p}.q`, C));
  const k = toSeq(pointwise(g, h, `${p}.k`, C));
  const v = toSeq(pointwise(g, h, `${p}.v`, C));
  const a = attention(g, q, k, v, 1, C);
  const back = g.op('Reshape', [g.op('Transpose', [a], { perm: [0, 2, 1] }), shapeX]);
  return g.op('Add', [x, pointwise(g, back, `${p}.proj_out`, C)]);
}

/** ldm Downsample(with_conv): zero pad right and bottom by one, then conv 3x3 stride 2 with no padding. */
export function downsample(g: GraphBuilder, x: string, p: string): string {
  // ONNX Pad order: begins for N,C,H,W then ends for N,C,H,W.
  const padded = g.op('Pad', [x, g.constInt64([0, 0, 0, 0, 0, 0, 1, 1])], { mode: 'constant' });
  return conv2d(g, padded, `${p}.conv`, { stride: 2, padding: 0 });
}

/** ldm Upsample(with_conv): nearest ×2 then conv 3x3. */
export function upsample(g: GraphBuilder, x: string, p: string): string {
  return conv2d(g, upsampleNearest2x(g, x), `${p}.conv`);
}

/** `mid`: block_1 → attn_1 → block_2. */
export function midBlock(g: GraphBuilder, x: string, p: string, eps: number): string {
  let h = resnetBlock(g, x, `${p}.block_1`, eps);
  h = attnBlock(g, h, `${p}.attn_1`, eps);
  return resnetBlock(g, h, `${p}.block_2`, eps);
}

/** 1x1 conv from a [C,C,1,1] or [C,C] weight. */
function pointwise(g: GraphBuilder, x: string, p: string, C: number): string {
  if (g.weightShape(`${p}.weight`).length === 4) return conv2d(g, x, p, { padding: 0 });
  const w = g.op('Reshape', [g.weight(`${p}.weight`), g.constInt64([C, C, 1, 1])]);
  return g.op('Conv', [x, w, g.weight(`${p}.bias`)], { kernel_shape: [1, 1] });
}
