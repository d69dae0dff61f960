/**
 * UNet down- and upsampling between levels.
 *
 * Downsample (`input_blocks.N.0.op`): conv 3x3, stride 2, padding 1, so a
 * side of n becomes ceil(n/2).
 * Upsample (`output_blocks.N.{1|2}.conv`): nearest-neighbour resize then conv
 * 3x3. The resize targets the spatial size of the skip that the next output
 * block concatenates, as ComfyUI's `Upsample(x, output_shape=hs[-1].shape)`
 * does, not a blind ×2: an odd side (e.g. a latent side of 20 → 10 → 5 → 3 in a
 * 4-level UNet) comes back as 3 → 5, and only then does the concat line up.
 * For even sides the target is exactly ×2 and the result is the same.
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';
import { conv2d } from '../onnx/layers.ts';

export function downsample(g: GraphBuilder, x: string, prefix: string): string {
  return conv2d(g, x, prefix, { stride: 2, padding: 1 });
}

/** Nearest resize of `x` to the H, W of `like`, then the conv at `prefix`. */
export function upsampleTo(g: GraphBuilder, x: string, like: string, prefix: string): string {
  const sizes = g.op('Concat', [
    g.op('Slice', [g.op('Shape', [x]), g.constInt64([0]), g.constInt64([2])]),
    g.op('Slice', [g.op('Shape', [like]), g.constInt64([2]), g.constInt64([4])]),
  ], { axis: 0 });
  // torch 'nearest' picks src = floor(dst · in/out); ONNX asymmetric + floor is the same rule.
  const up = g.op('Resize', [x, '', '', sizes], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  return conv2d(g, up, prefix);
}
