/**
 * ONNX graph of the VAE decoder: raw first-stage latent → image.
 *
 * Input `z` [B,zC,h,w] is the latent already divided by the model's scaling
 * factor (SDXL 0.13025): the scaling belongs to the model family, not the VAE
 * weights, so the caller applies it. Output `image` [B,3,8h,8w] (factor
 * 2^(levels-1)) is nominally in [-1,1] and left unclamped; pipeline.md §1.12
 * maps it to pixels as clamp((x+1)/2, 0, 1).
 *
 * Precision: compute defaults to float32 and should stay there for SDXL. The
 * SDXL VAE's activations overflow fp16 (ORT's own SDXL demo refuses it; the
 * usual fix is the retrained `sdxl-vae-fp16-fix`), so 'float16' is accepted
 * only for VAEs known to survive it. GroupNorm statistics are fp32 either way.
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { conv2d, groupNorm, silu } from '../onnx/layers.ts';
import { prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { midBlock, resnetBlock, upsample } from './vaeBlocks.ts';
import { vaeConfigFromWeights, vaeLevelChannels, type VaeConfig } from './vaeConfig.ts';

/** Where SDXL checkpoints keep the VAE. */
export const VAE_PREFIX = 'first_stage_model.';

export const VAE_DECODER_INPUT = 'z';
export const VAE_DECODER_OUTPUT = 'image';

export interface VaeGraphOptions {
  /** The whole checkpoint; initializers keep their full checkpoint keys. */
  weights: WeightSource;
  /** Default VAE_PREFIX. */
  prefix?: string;
  /** Default: inferred from the weights with vaeConfigFromWeights. */
  config?: VaeConfig;
  /** Default 'float32' (see the file comment before choosing 'float16'). */
  compute?: ComputeType;
}

export interface VaeGraph {
  model: BuiltModel;
  config: VaeConfig;
}

export function buildVaeDecoderGraph(opts: VaeGraphOptions): VaeGraph {
  const ws = prefixedWeights(opts.weights, opts.prefix ?? VAE_PREFIX);
  const config = opts.config ?? vaeConfigFromWeights(ws);
  const compute = opts.compute ?? 'float32';
  const eps = config.groupNormEps;
  const g = new GraphBuilder('vae_decoder', compute, ws);
  const levels = config.chMult.length;

  const z = g.input(VAE_DECODER_INPUT, compute, ['B', config.zChannels, 'h', 'w']);
  let x = conv2d(g, z, 'post_quant_conv');
  x = conv2d(g, x, 'decoder.conv_in');
  x = midBlock(g, x, 'decoder.mid', eps);
  // Key index = level (0 = full resolution); execution runs from the deepest level up.
  for (let i = levels - 1; i >= 0; i--) {
    for (let j = 0; j <= config.numResBlocks; j++) x = resnetBlock(g, x, `decoder.up.${i}.block.${j}`, eps);
    if (i !== 0) x = upsample(g, x, `decoder.up.${i}.upsample`);
  }
  x = silu(g, groupNorm(g, x, 'decoder.norm_out', vaeLevelChannels(config, 0), eps));
  x = conv2d(g, x, 'decoder.conv_out');
  g.output(x, VAE_DECODER_OUTPUT, compute, ['B', config.outChannels, 'H', 'W']);
  return { model: g.build(), config };
}
