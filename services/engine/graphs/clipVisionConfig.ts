/**
 * CLIP vision tower (HF `CLIPVisionModelWithProjection` names, as Fooocus's
 * `clip_vision_vit_h.safetensors` stores them) hyper-parameters, read from
 * the weights alone: the file carries no config, and the golden set's tiny
 * tower (64 wide, 2 layers) must go through the same code as ViT-H/14
 * (1280 wide, 32 layers).
 *
 * From shapes: width (class embedding), patch size and channels (patch conv),
 * positions (→ image size = √(positions − 1) · patch), layers (key count),
 * MLP width (fc1), projection width (visual_projection, optional).
 * What shapes cannot tell:
 * - heads: CLIP vision towers use 64-wide heads except the LAION ViT-H/14 and
 *   ViT-g/14 (16 heads at widths 1280 and 1408; `clip_vision_config_h.json`
 *   says 16 for Fooocus's file), so heads = 16 at those widths, width / 64
 *   otherwise; a caller that knows better passes `config`;
 * - activation: exact GELU, as `clip_vision_config_h.json` (`hidden_act: gelu`).
 */
import { CheckpointError } from '../io/engineErrors.ts';
import type { WeightSource } from '../onnx/weightSource.ts';

export interface ClipVisionConfig {
  width: number;
  layers: number;
  heads: number;
  headDim: number;
  mlpWidth: number;
  patchSize: number;
  imageSize: number;
  /** Patches + the class token (257 for 224/14). */
  positions: number;
  /** Output width of `visual_projection`; null when the file has none. */
  projectionDim: number | null;
  activation: 'gelu' | 'quick_gelu';
  layerNormEps: number;
}

/** Keys relative to the tower's prefix (see clipVisionPrefix). */
export const CLIP_VISION_KEYS = {
  classEmbedding: 'vision_model.embeddings.class_embedding',
  patchEmbedding: 'vision_model.embeddings.patch_embedding.weight',
  positionEmbedding: 'vision_model.embeddings.position_embedding.weight',
  preLayerNorm: 'vision_model.pre_layrnorm',
  postLayerNorm: 'vision_model.post_layernorm',
  layer: (i: number) => `vision_model.encoder.layers.${i}.`,
  projection: 'visual_projection.weight',
} as const;

const LAYER_PATTERN = /^vision_model\.encoder\.layers\.(\d+)\./;

/** Widths whose towers have 16 heads instead of 64-wide ones (LAION ViT-H/14, ViT-g/14). */
const SIXTEEN_HEAD_WIDTHS: ReadonlySet<number> = new Set([1280, 1408]);

/** The key prefix before `vision_model.` ('' for Fooocus's file; some exports nest it). Throws when there is no tower. */
export function clipVisionPrefix(weights: WeightSource): string {
  for (const key of weights.keys()) {
    if (key.endsWith(CLIP_VISION_KEYS.classEmbedding)) return key.slice(0, key.length - CLIP_VISION_KEYS.classEmbedding.length);
  }
  throw new CheckpointError(weights.name, 'unsupported_architecture', `not a CLIP vision model: no ${CLIP_VISION_KEYS.classEmbedding}`);
}

/** `weights` has keys relative to the tower prefix. */
export function clipVisionConfigFromWeights(weights: WeightSource): ClipVisionConfig {
  const name = weights.name;
  const shape = (key: string, rank: number): number[] => {
    if (!weights.has(key)) throw new CheckpointError(name, 'missing_tensor', `CLIP vision: tensor ${key} is missing`);
    const s = weights.ref(key).shape;
    if (s.length !== rank) throw new CheckpointError(name, 'bad_shape', `CLIP vision: ${key} has shape [${s.join(', ')}], expected rank ${rank}`);
    return s;
  };
  const [width] = shape(CLIP_VISION_KEYS.classEmbedding, 1);
  const [pw, channels, patchSize, patchW] = shape(CLIP_VISION_KEYS.patchEmbedding, 4);
  if (pw !== width || channels !== 3 || patchW !== patchSize) {
    throw new CheckpointError(name, 'bad_shape', `CLIP vision: patch embedding [${[pw, channels, patchSize, patchW].join(', ')}] does not fit width ${width} and RGB square patches`);
  }
  const [positions, posW] = shape(CLIP_VISION_KEYS.positionEmbedding, 2);
  const grid = Math.round(Math.sqrt(positions - 1));
  if (posW !== width || grid * grid !== positions - 1) {
    throw new CheckpointError(name, 'bad_shape', `CLIP vision: position table [${positions}, ${posW}] is not a square grid plus a class token of width ${width}`);
  }
  let layers = 0;
  for (const key of weights.keys()) {
    const m = LAYER_PATTERN.exec(key);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers === 0) throw new CheckpointError(name, 'missing_tensor', 'CLIP vision: no encoder layers');
  const [mlpWidth, fcIn] = shape(`${CLIP_VISION_KEYS.layer(0)}mlp.fc1.weight`, 2);
  if (fcIn !== width) throw new CheckpointError(name, 'bad_shape', `CLIP vision: mlp.fc1 takes ${fcIn}, expected ${width}`);
  const heads = SIXTEEN_HEAD_WIDTHS.has(width) ? 16 : Math.max(1, Math.floor(width / 64));
  if (width % heads !== 0) throw new CheckpointError(name, 'unsupported_architecture', `CLIP vision: width ${width} does not split into ${heads} heads`);
  const projectionDim = weights.has(CLIP_VISION_KEYS.projection) ? shape(CLIP_VISION_KEYS.projection, 2)[0] : null;
  for (const ln of [CLIP_VISION_KEYS.preLayerNorm, CLIP_VISION_KEYS.postLayerNorm]) shape(`${ln}.weight`, 1);
  return {
    width, layers, heads, headDim: width / heads, mlpWidth, patchSize, imageSize: grid * patchSize, positions, projectionDim,
    activation: 'gelu', layerNormEps: 1e-5,
  };
}
