/**
 * ONNX graph of the VAE encoder: image → posterior moments.
 *
 * Input `image` [B,3,H,W] in [-1,1], H and W multiples of 8 (2^(levels-1)).
 * Output `moments` [B,2·embedDim,H/8,W/8] = quant_conv(encoder(image)):
 * channels 0..embedDim-1 are the mean, the rest the log-variance, raw and
 * unclamped. Sampling (ComfyUI: mean + exp(logvar/2)·noise) or taking the
 * mean, and the scaling factor (SDXL 0.13025), are the caller's: they need a
 * noise source and a model-family constant that the weights do not carry.
 *
 * Precision: float32 by default, for the same fp16 overflow as the decoder
 * (see vaeDecoderGraph.ts).
 */
import { GraphBuilder } from '../onnx/graphBuilder.ts';
import { conv2d, groupNorm, silu } from '../onnx/layers.ts';
import { prefixedWeights } from '../onnx/weightSource.ts';
import { downsample, midBlock, resnetBlock } from './vaeBlocks.ts';
import { vaeConfigFromWeights, vaeLevelChannels } from './vaeConfig.ts';
import { VAE_PREFIX, type VaeGraph, type VaeGraphOptions } from './vaeDecoderGraph.ts';

export const VAE_ENCODER_INPUT = 'image';
export const VAE_ENCODER_OUTPUT = 'moments';

export function buildVaeEncoderGraph(opts: VaeGraphOptions): VaeGraph {
  const ws = prefixedWeights(opts.weights, opts.prefix ?? VAE_PREFIX);
  const config = opts.config ?? vaeConfigFromWeights(ws);
  const compute = opts.compute ?? 'float32';
  const eps = config.groupNormEps;
  const g = new GraphBuilder('vae_encoder', compute, ws);
  const levels = config.chMult.length;

  const image = g.input(VAE_ENCODER_INPUT, compute, ['B', config.inChannels, 'H', 'W']);
  let x = conv2d(g, image, 'encoder.conv_in');
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < config.numResBlocks; j++) x = resnetBlock(g, x, `encoder.down.${i}.block.${j}`, eps);
    if (i !== levels - 1) x = downsample(g, x, `encoder.down.${i}.downsample`);
  }
  x = midBlock(g, x, 'encoder.mid', eps);
  x = silu(g, groupNorm(g, x, 'encoder.norm_out', vaeLevelChannels(config, levels - 1), eps));
  x = conv2d(g, x, 'encoder.conv_out');
  x = conv2d(g, x, 'quant_conv');
  g.output(x, VAE_ENCODER_OUTPUT, compute, ['B', 2 * config.embedDim, 'h', 'w']);
  return { model: g.build(), config };
}
