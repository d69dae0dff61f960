/**
 * A ControlNet as an ONNX graph (Fooocus `patched_cldm_forward`, F
 * modules/patch.py; cldm `ControlNet`): the UNet's encoder half plus a hint
 * encoder and one zero conv per skip.
 *
 *   emb   = time_embed(temb(t)) + label_emb(y)          (y: the timed ADM half, as the UNet gets it)
 *   h     = input_blocks[0](x) + input_hint_block(hint)
 *   out_i = zero_convs[i](h) after input block i          (i = 0 … skips − 1)
 *   out_N = middle_block_out(middle_block(h))
 *   out_i *= scale[i]
 *
 * `scale` folds Fooocus's softness (out_i *= 1 − softness·(1 − i/N)) and the
 * ControlNet strength (ComfyUI control_merge, x *= strength) into one input
 * ([N+1], controlOutputScales), so one session serves every setting; the
 * outputs are exactly what the UNet's `control` variant adds (unetGraph.ts:
 * out_N to the middle output, out_i to skip i when the output blocks pop it).
 *
 * Interface (B, H, W, S dynamic; the hint is 8× the latent, batch 1 or B):
 *   x [B, inChannels, H, W], hint [HB, hintChannels, 8H, 8W], timesteps [B],
 *   context [B, S, contextDim], y [B, admInChannels], scale [N+1]
 *   → control_0 … control_N float32 (the UNet skip shapes, then the middle).
 * I/O float32 for both compute types, as the UNet graph.
 *
 * The hint block is cldm's fixed stack: 3×3 convs with SiLU between, the
 * 3rd, 5th and 7th of eight with stride 2 (so /8, the VAE factor); its
 * widths and the hint channels come from the weights.
 */
import type { BuiltModel, ComputeType } from '../onnx/graphBuilder.ts';
import { GraphBuilder } from '../onnx/graphBuilder.ts';
import { conv2d, linear, silu } from '../onnx/layers.ts';
import type { WeightSource } from '../onnx/weightSource.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { resBlock } from './resBlock.ts';
import { spatialTransformer } from './spatialTransformer.ts';
import { sinusoidalEmbedding } from './timestepEmbedding.ts';
import { inferUnetConfig, type UnetConfig } from './unetConfig.ts';
import type { UnetLayout } from './unetLayout.ts';
import { downsample } from './unetResample.ts';
import { validateUnetWeights } from './unetWeightManifest.ts';

/** Graph input names; outputs are UNET_CONTROL_INPUT(i), the UNet's control inputs. */
export const CONTROLNET_IO = { x: 'x', hint: 'hint', timesteps: 'timesteps', context: 'context', y: 'y', scale: 'scale' } as const;

/** The name of control residual i (0 … skips − 1 the skips, skips the middle), shared by both graphs. */
export const controlResidualName = (i: number): string => `control_${i}`;

/** Residuals a UNet with this layout takes: one per skip (conv_in + every input block) and the middle. */
export const controlResidualCount = (layout: UnetLayout): number => layout.input.length + 2;

/** cldm's input_hint_block: positions (in the conv list) of the stride-2 convs. */
const HINT_STRIDE2_POSITIONS = new Set([2, 4, 6]);
const HINT_CONVS = 8;

/**
 * Fooocus's per-output multipliers (F modules/patch.py): out_i ·(1 − softness·(1 − i/(n−1))),
 * then · strength (ComfyUI control_merge). Float64 factors, rounded once to float32.
 */
export function controlOutputScales(count: number, softness: number, strength: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.fround(Math.fround(1 - softness * (1 - i / (count - 1))) * strength);
  return out;
}

/** The hint block's conv indices (`input_hint_block.{n}.weight`), validated against cldm's stack. */
export function hintBlockConvs(weights: WeightSource, modelChannels: number): { index: number; stride: number; inChannels: number; outChannels: number }[] {
  const indices: number[] = [];
  for (const k of weights.keys()) {
    const m = /^input_hint_block\.(\d+)\.weight$/.exec(k);
    if (m) indices.push(Number(m[1]));
  }
  indices.sort((a, b) => a - b);
  if (indices.length !== HINT_CONVS) {
    throw new CheckpointError(weights.name, 'unsupported_architecture', `input_hint_block has ${indices.length} convs, expected ${HINT_CONVS}`);
  }
  const convs = indices.map((index, p) => {
    const shape = weights.ref(`input_hint_block.${index}.weight`).shape;
    return { index, stride: HINT_STRIDE2_POSITIONS.has(p) ? 2 : 1, inChannels: shape[1], outChannels: shape[0] };
  });
  convs.forEach((c, p) => {
    if (p > 0 && c.inChannels !== convs[p - 1].outChannels) {
      throw new CheckpointError(weights.name, 'bad_shape', `input_hint_block.${c.index} takes ${c.inChannels} channels, the previous conv gives ${convs[p - 1].outChannels}`);
    }
  });
  if (convs.at(-1)!.outChannels !== modelChannels) {
    throw new CheckpointError(weights.name, 'bad_shape', `input_hint_block ends with ${convs.at(-1)!.outChannels} channels, the UNet has ${modelChannels}`);
  }
  return convs;
}

/** Keys only a ControlNet has (the hint encoder, the zero convs); the rest follow the UNet's layout. */
const CONTROL_ONLY = /^(input_hint_block|zero_convs|middle_block_out)\./;

function withoutControlModules(w: WeightSource): WeightSource {
  return {
    name: w.name,
    has: (k) => !CONTROL_ONLY.test(k) && w.has(k),
    ref: (k) => w.ref(k),
    *keys() {
      for (const k of w.keys()) if (!CONTROL_ONLY.test(k)) yield k;
    },
  };
}

export interface BuildControlNetGraphOptions {
  /** ControlNet keys: the encoder's UNet keys + input_hint_block / zero_convs / middle_block_out (controlnet/controlLoraWeights.ts). */
  weights: WeightSource;
  /** Default: inferred from the weights. */
  config?: UnetConfig;
  compute: ComputeType;
}

export function buildControlNetGraph(opts: BuildControlNetGraphOptions): { model: BuiltModel; layout: UnetLayout; hintChannels: number } {
  const config = opts.config ?? inferUnetConfig(opts.weights);
  // The UNet manifest check (shapes of the copied encoder) on the weights without the ControlNet's own modules.
  const layout = validateUnetWeights(withoutControlModules(opts.weights), config);
  const hint = hintBlockConvs(opts.weights, config.modelChannels);
  const g = new GraphBuilder('controlnet', opts.compute, opts.weights);
  forward(g, layout, hint);
  return { model: g.build(), layout, hintChannels: hint[0].inChannels };
}

function forward(g: GraphBuilder, layout: UnetLayout, hintConvs: ReturnType<typeof hintBlockConvs>): void {
  const { config } = layout;
  const fp16 = g.compute === 'float16';
  const toCompute = (v: string) => (fp16 ? g.op('Cast', [v], { to: 10 }) : v);
  const toF32 = (v: string) => (fp16 ? g.op('Cast', [v], { to: 1 }) : v);
  const count = controlResidualCount(layout);

  const x = toCompute(g.input(CONTROLNET_IO.x, 'float32', ['B', config.inChannels, 'H', 'W']));
  let hint = toCompute(g.input(CONTROLNET_IO.hint, 'float32', ['HB', hintConvs[0].inChannels, 'HH', 'HW']));
  const timesteps = g.input(CONTROLNET_IO.timesteps, 'float32', ['B']);
  const context = config.contextDim === null ? '' : toCompute(g.input(CONTROLNET_IO.context, 'float32', ['B', 'S', config.contextDim]));
  const y = config.admInChannels === null ? '' : toCompute(g.input(CONTROLNET_IO.y, 'float32', ['B', config.admInChannels]));
  const scale = toCompute(g.input(CONTROLNET_IO.scale, 'float32', [count]));

  const tSin = sinusoidalEmbedding(g, timesteps, config.modelChannels);
  let emb = linear(g, silu(g, linear(g, toCompute(tSin), 'time_embed.0')), 'time_embed.2');
  if (y) emb = g.op('Add', [emb, linear(g, silu(g, linear(g, y, 'label_emb.0.0')), 'label_emb.0.2')]);
  const embAct = silu(g, emb);

  hintConvs.forEach((c, p) => {
    hint = conv2d(g, hint, `input_hint_block.${c.index}`, { stride: c.stride });
    if (p < hintConvs.length - 1) hint = silu(g, hint);
  });

  const outs: string[] = [];
  const zero = (h: string) => conv2d(g, h, `zero_convs.${outs.length}.0`);
  let h = g.op('Add', [conv2d(g, x, layout.convIn.prefix), hint]);
  outs.push(zero(h));
  const useLinear = config.useLinearInTransformer;
  for (const b of layout.input) {
    if (b.res) h = resBlock(g, h, embAct, b.res);
    if (b.transformer) h = spatialTransformer(g, h, context, b.transformer, useLinear);
    if (b.downsample) h = downsample(g, h, b.downsample.prefix);
    outs.push(zero(h));
  }
  const { middle } = layout;
  if (middle.res.length > 0) h = resBlock(g, h, embAct, middle.res[0]);
  if (middle.transformer) h = spatialTransformer(g, h, context, middle.transformer, useLinear);
  if (middle.res.length > 1) h = resBlock(g, h, embAct, middle.res[1]);
  outs.push(conv2d(g, h, 'middle_block_out.0'));

  outs.forEach((o, i) => {
    const s = g.op('Gather', [scale, g.constInt64([i], [])]);
    g.output(toF32(g.op('Mul', [o, s])), controlResidualName(i), 'float32', ['B', 'C', 'h', 'w'].map((d) => `${d}${i}`));
  });
}
