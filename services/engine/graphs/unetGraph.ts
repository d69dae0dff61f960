/**
 * SDXL-family UNet as an ONNX graph, built from the checkpoint's own keys
 * (pipeline.md §6.3 "Option B"): `eps = UNet(x, timesteps, context, y)`, the raw
 * model call of ldm `UNetModel.forward` (no c_in scaling, no CFG).
 *
 * Interface (batch B, latent H×W and context length S are all dynamic):
 *   x          float32 [B, inChannels, H, W]
 *   timesteps  float32 [B]            fractional values allowed (interpolated t, EDM)
 *   context    float32 [B, S, contextDim]      (absent if the UNet has no transformer)
 *   y          float32 [B, admInChannels]      (absent if the UNet has no label_emb)
 *   → eps      float32 [B, outChannels, H, W]
 * The I/O is float32 for both compute types: samplers work in float32, so an
 * fp16 graph casts at its boundary (a few KB per step) and callers never
 * convert. Any H, W ≥ 1 works; odd sides are handled as ComfyUI does (see
 * unetResample.ts).
 *
 * Structure: forward() below follows `UNetModel.forward` line by line; each
 * block type lives in its own module (resBlock, spatialTransformer,
 * unetResample, timestepEmbedding, unetAttention) and the block list comes
 * from unetLayout, which also drives the weight manifest checked beforehand.
 *
 * Variants. Fooocus features add graph inputs at fixed points of forward()
 * (pipeline.md §0 finding 3, §6.3): the inpaint head's residual after conv_in
 * (input_blocks[0], so it also reaches that skip), IP-Adapter image K/V
 * concatenated in every attn2 (unetAttention.ts), ControlNet residuals added to
 * the skips and after the middle block (`apply_control`), FreeU scaling of
 * (h, skip) before each output concat. Each is a field of UnetVariant,
 * adding its inputs and its few nodes at that point; FreeU (`freeu`, freeu.ts)
 * the inpaint head's residual (`inpaintFeature`) and IP-Adapter (`ipAdapter`,
 * unetIpAdapter.ts) and ControlNet residuals (`control`, controlNetGraph.ts)
 * are built.
 */
import type { BuiltModel, ComputeType } from '../onnx/graphBuilder.ts';
import { GraphBuilder } from '../onnx/graphBuilder.ts';
import { conv2d, groupNorm, linear, silu } from '../onnx/layers.ts';
import type { WeightSource } from '../onnx/weightSource.ts';
import { controlResidualCount, controlResidualName } from './controlNetGraph.ts';
import { FREEU_INPUT, freeuPatch, freeuStage } from './freeu.ts';
import { RESBLOCK_GN_EPS, resBlock } from './resBlock.ts';
import { spatialTransformer } from './spatialTransformer.ts';
import { sinusoidalEmbedding } from './timestepEmbedding.ts';
import { inferUnetConfig, unetWeightsOf, type UnetConfig } from './unetConfig.ts';
import type { ExtraKv } from './unetAttention.ts';
import { ipAttn2Layers, UNET_IP_INPUT } from './unetIpAdapter.ts';
import type { UnetLayout } from './unetLayout.ts';
import { downsample, upsampleTo } from './unetResample.ts';
import { validateUnetWeights } from './unetWeightManifest.ts';

/** Build options that change the graph's interface. Every field defaults to off. */
export interface UnetVariant {
  /**
   * Also output the intermediates the golden cases record, float32:
   * `debug_t_sinusoidal` [B, modelChannels] and `debug_emb` [B, timeEmbedDim]
   * (time_embed(temb) + label_emb(y), the vector every ResBlock sees).
   * For tests and debugging. Default false.
   */
  debugOutputs?: boolean;
  /**
   * FreeU_V2 (freeu.ts): adds the input `freeu` float32 [4] = b1, b2, s1, s2
   * and patches (h, skip) before every output concat whose h has 4× or 2×
   * model_channels. Parameters are an input, so one session serves any
   * values. Default false (the plain UNet, no extra input).
   */
  freeu?: boolean;
  /**
   * Fooocus inpaint (inpaint/inpaintHead.ts): adds the input `inpaint_feature`
   * float32 [1 or B, model_channels, H, W], added to h right after
   * input_blocks[0] (conv_in), before that output is kept as skip 0, as
   * Fooocus' input_block_patch does. Default false.
   */
  inpaintFeature?: boolean;
  /**
   * IP-Adapter (unetIpAdapter.ts): adds the inputs `ip_k.{n}` and `ip_v.{n}`
   * float32 [B, IPN, C_n] for every attn2 n in Fooocus's patch order, the
   * weighted image K/V appended to the text K/V of that layer (one softmax).
   * Default false.
   */
  ipAdapter?: boolean;
  /**
   * ControlNet (controlNetGraph.ts, ldm `apply_control`): adds the inputs
   * `control_0 … control_N` float32, one per skip (the skip's shape) and the
   * middle last, already scaled (softness, strength); the middle one is
   * added to the middle block's output, `control_i` to skip i when the
   * output blocks pop it (before FreeU). Default false.
   */
  control?: boolean;
}

export interface BuildUnetGraphOptions {
  /** The checkpoint, or its UNet view with keys relative to `model.diffusion_model.`. */
  weights: WeightSource;
  /** Default: inferred from the weights (inferUnetConfig). */
  config?: UnetConfig;
  /** Precision of the graph's arithmetic; I/O stays float32 either way. */
  compute: ComputeType;
  /** Default: the plain UNet. */
  variant?: UnetVariant;
}

/** Graph input and output names. */
export const UNET_IO = { x: 'x', timesteps: 'timesteps', context: 'context', y: 'y', eps: 'eps', freeu: FREEU_INPUT, inpaintFeature: 'inpaint_feature' } as const;

/**
 * Builds the graph after checking the weights against the config's manifest,
 * so a broken checkpoint fails here with a CheckpointError naming the tensor
 * instead of inside ORT.
 */
export function buildUnetGraph(opts: BuildUnetGraphOptions): BuiltModel {
  const weights = unetWeightsOf(opts.weights);
  const config = opts.config ?? inferUnetConfig(weights);
  const layout = validateUnetWeights(weights, config);
  const g = new GraphBuilder('sdxl_unet', opts.compute, weights);
  forward(g, layout, opts.variant ?? {});
  return g.build();
}

function forward(g: GraphBuilder, layout: UnetLayout, variant: UnetVariant): void {
  const { config } = layout;
  const fp16 = g.compute === 'float16';
  const toCompute = (v: string) => (fp16 ? g.op('Cast', [v], { to: 10 }) : v);

  const x = toCompute(g.input(UNET_IO.x, 'float32', ['B', config.inChannels, 'H', 'W']));
  const timesteps = g.input(UNET_IO.timesteps, 'float32', ['B']);
  const context = config.contextDim === null ? '' : toCompute(g.input(UNET_IO.context, 'float32', ['B', 'S', config.contextDim]));
  const y = config.admInChannels === null ? '' : toCompute(g.input(UNET_IO.y, 'float32', ['B', config.admInChannels]));
  const freeu = variant.freeu ? g.input(UNET_IO.freeu, 'float32', [4]) : '';
  const inpaintFeature = variant.inpaintFeature ? toCompute(g.input(UNET_IO.inpaintFeature, 'float32', ['FB', config.modelChannels, 'H', 'W'])) : '';
  // IP-Adapter K/V per attn2, looked up by (transformer prefix, block); declared in Fooocus's order.
  const ipKv = new Map<string, ExtraKv>();
  if (variant.ipAdapter) {
    ipAttn2Layers(layout).forEach((l, n) => {
      const k = toCompute(g.input(UNET_IP_INPUT.k(n), 'float32', ['B', 'IPN', l.channels]));
      const v = toCompute(g.input(UNET_IP_INPUT.v(n), 'float32', ['B', 'IPN', l.channels]));
      ipKv.set(`${l.transformer}#${l.block}`, { k, v });
    });
  }
  // ControlNet residuals: skips first (skip i = control_i), the middle last.
  const control = variant.control
    ? Array.from({ length: controlResidualCount(layout) }, (_, i) => toCompute(g.input(controlResidualName(i), 'float32', ['B', 'C', 'h', 'w'].map((d) => `${d}${i}`))))
    : null;
  const attn2Extra = variant.ipAdapter ? (prefix: string) => (b: number) => ipKv.get(`${prefix}#${b}`) : () => undefined;

  // emb = time_embed(temb(t)) + label_emb(y); the sinusoid stays float32 (timestepEmbedding.ts).
  const tSin = sinusoidalEmbedding(g, timesteps, config.modelChannels);
  let emb = linear(g, silu(g, linear(g, toCompute(tSin), 'time_embed.0')), 'time_embed.2');
  if (y) emb = g.op('Add', [emb, linear(g, silu(g, linear(g, y, 'label_emb.0.0')), 'label_emb.0.2')]);
  const embAct = silu(g, emb);

  const useLinear = config.useLinearInTransformer;
  let h = conv2d(g, x, layout.convIn.prefix);
  // Fooocus' inpaint input_block_patch on block 0: the feature (batch 1 broadcast over cond/uncond) joins h and skip 0.
  if (inpaintFeature) h = g.op('Add', [h, inpaintFeature]);
  const skips = [h];
  for (const b of layout.input) {
    if (b.res) h = resBlock(g, h, embAct, b.res);
    if (b.transformer) h = spatialTransformer(g, h, context, b.transformer, useLinear, attn2Extra(b.transformer.prefix));
    if (b.downsample) h = downsample(g, h, b.downsample.prefix);
    skips.push(h);
  }

  const { middle } = layout;
  if (middle.res.length > 0) h = resBlock(g, h, embAct, middle.res[0]);
  if (middle.transformer) h = spatialTransformer(g, h, context, middle.transformer, useLinear, attn2Extra(middle.transformer.prefix));
  if (middle.res.length > 1) h = resBlock(g, h, embAct, middle.res[1]);
  if (control) h = g.op('Add', [h, control[control.length - 1]]);

  for (const b of layout.output) {
    let skip = skips.pop()!;
    // apply_control(hsp, control, 'output'): the residual of the skip's own index.
    if (control) skip = g.op('Add', [skip, control[skips.length]]);
    // Fooocus' output_block_patch point (patched_unet_forward): after the pop, before the concat.
    const stage = freeu ? freeuStage(b.res.inChannels - b.skipChannels, config.modelChannels) : null;
    if (stage !== null) ({ h, skip } = freeuPatch(g, { h, skip, hChannels: b.res.inChannels - b.skipChannels, params: freeu, stage }));
    h = g.op('Concat', [h, skip], { axis: 1 });
    h = resBlock(g, h, embAct, b.res);
    if (b.transformer) h = spatialTransformer(g, h, context, b.transformer, useLinear, attn2Extra(b.transformer.prefix));
    // The next skip to be concatenated fixes the upsampled size.
    if (b.upsample) h = upsampleTo(g, h, skips[skips.length - 1], b.upsample.prefix);
  }

  const finalChannels = layout.output.at(-1)?.res.outChannels ?? middle.channels;
  let out = conv2d(g, silu(g, groupNorm(g, h, 'out.0', finalChannels, RESBLOCK_GN_EPS)), 'out.2');
  if (fp16) out = g.op('Cast', [out], { to: 1 });
  g.output(out, UNET_IO.eps, 'float32', ['B', config.outChannels, 'H', 'W']);

  if (variant.debugOutputs) {
    g.output(tSin, 'debug_t_sinusoidal', 'float32', ['B', config.modelChannels]);
    g.output(fp16 ? g.op('Cast', [emb], { to: 1 }) : emb, 'debug_emb', 'float32', ['B', config.timeEmbedDim]);
  }
}
