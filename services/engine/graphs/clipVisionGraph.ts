/**
 * The CLIP vision tower as an ONNX graph (transformers `CLIPVisionModel`),
 * for Fooocus's image prompt (extras/ip_adapter.py `clip_vision.encode_image`):
 *
 *   patches = Conv(pixels, patch_embedding, stride = patch, no bias) → [B, P, W]
 *   x = [class_embedding; patches] + position_embedding → pre_layrnorm
 *   per layer (pre-LN): x += out_proj(attn(LN1(x)));  x += fc2(gelu(fc1(LN2(x))))
 *
 * Output `penultimate` [B, positions, W] = `hidden_states[-2]`, the input of
 * the last layer, which is what IP-Adapter Plus feeds its Resampler; so the
 * last layer is not built unless `imageEmbeds` asks for
 * `image_embeds` = visual_projection(post_layernorm(last[:, 0])) (the pooled
 * embedding non-Plus adapters use; checked by the golden set).
 * Input `pixel_values` float32 [B, 3, S, S], already normalised
 * (ipadapter/clipVisionPixels.ts). I/O is float32 for either compute type.
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { attention, gelu, layerNorm, linear, quickGelu } from '../onnx/layers.ts';
import { prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { CLIP_VISION_KEYS, clipVisionConfigFromWeights, clipVisionPrefix, type ClipVisionConfig } from './clipVisionConfig.ts';

export const CLIP_VISION_IO = { pixels: 'pixel_values', penultimate: 'penultimate', imageEmbeds: 'image_embeds' } as const;

export interface ClipVisionGraphOptions {
  /** The clip_vision file (any key prefix before `vision_model.`). */
  weights: WeightSource;
  /** Default: inferred (clipVisionConfigFromWeights). */
  config?: ClipVisionConfig;
  /** Default 'float32'. */
  compute?: ComputeType;
  /** Also output `image_embeds` [B, projectionDim] (builds the last layer too). Default false. */
  imageEmbeds?: boolean;
}

export interface ClipVisionGraph {
  model: BuiltModel;
  config: ClipVisionConfig;
}

export function buildClipVisionGraph(opts: ClipVisionGraphOptions): ClipVisionGraph {
  const ws = prefixedWeights(opts.weights, clipVisionPrefix(opts.weights));
  const config = opts.config ?? clipVisionConfigFromWeights(ws);
  if (opts.imageEmbeds && config.projectionDim === null) {
    throw new CheckpointError(ws.name, 'missing_tensor', `CLIP vision: no ${CLIP_VISION_KEYS.projection}, cannot output image_embeds`);
  }
  const compute = opts.compute ?? 'float32';
  const fp16 = compute === 'float16';
  const g = new GraphBuilder('clip_vision', compute, ws);
  const { width: W, patchSize: P, imageSize: S } = config;
  const toF32 = (v: string) => (fp16 ? g.op('Cast', [v], { to: 1 }) : v);

  let pixels = g.input(CLIP_VISION_IO.pixels, 'float32', ['B', 3, S, S]);
  if (fp16) pixels = g.op('Cast', [pixels], { to: 10 });
  const conv = g.op('Conv', [pixels, g.weight(CLIP_VISION_KEYS.patchEmbedding)], { kernel_shape: [P, P], strides: [P, P], pads: [0, 0, 0, 0] });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.constInt64([0, W, -1])])], { perm: [0, 2, 1] }); // [B, P², W]
  // The class token [W] broadcast to [B, 1, W]: Expand to the patches' batch.
  const batch = g.op('Slice', [g.op('Shape', [patches]), g.constInt64([0]), g.constInt64([1])]);
  const cls = g.op('Expand', [
    g.op('Reshape', [g.weight(CLIP_VISION_KEYS.classEmbedding), g.constInt64([1, 1, W])]),
    g.op('Concat', [batch, g.constInt64([1, W])], { axis: 0 }),
  ]);
  let x = g.op('Add', [g.op('Concat', [cls, patches], { axis: 1 }), g.weight(CLIP_VISION_KEYS.positionEmbedding)]);
  x = layerNorm(g, x, CLIP_VISION_KEYS.preLayerNorm, config.layerNormEps);

  // hidden_states[-2] is the input of the last layer; that layer is built only for image_embeds.
  for (let i = 0; i < config.layers - 1; i++) x = encoderLayer(g, x, CLIP_VISION_KEYS.layer(i), config);
  const penultimate = x;
  g.output(toF32(penultimate), CLIP_VISION_IO.penultimate, 'float32', ['B', config.positions, W]);
  if (!opts.imageEmbeds) return { model: g.build(), config };
  const last = encoderLayer(g, penultimate, CLIP_VISION_KEYS.layer(config.layers - 1), config);
  const cls0 = g.op('Squeeze', [g.op('Slice', [last, g.constInt64([0]), g.constInt64([1]), g.constInt64([1])]), g.constInt64([1])]);
  const embeds = linear(g, layerNorm(g, cls0, CLIP_VISION_KEYS.postLayerNorm, config.layerNormEps), 'visual_projection', { bias: false });
  g.output(toF32(embeds), CLIP_VISION_IO.imageEmbeds, 'float32', ['B', config.projectionDim!]);
  return { model: g.build(), config };
}

/** transformers CLIPEncoderLayer (pre-LN, no mask). */
function encoderLayer(g: GraphBuilder, x: string, p: string, config: ClipVisionConfig): string {
  const h = layerNorm(g, x, `${p}layer_norm1`, config.layerNormEps);
  const q = linear(g, h, `${p}self_attn.q_proj`);
  const k = linear(g, h, `${p}self_attn.k_proj`);
  const v = linear(g, h, `${p}self_attn.v_proj`);
  x = g.op('Add', [x, linear(g, attention(g, q, k, v, config.heads, config.headDim), `${p}self_attn.out_proj`)]);
  const m = linear(g, layerNorm(g, x, `${p}layer_norm2`, config.layerNormEps), `${p}mlp.fc1`);
  const act = config.activation === 'quick_gelu' ? quickGelu(g, m) : gelu(g, m);
  return g.op('Add', [x, linear(g, act, `${p}mlp.fc2`)]);
}
