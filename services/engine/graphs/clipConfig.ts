/**
 * CLIP text-encoder hyper-parameters, read from the weights alone.
 *
 * Single-file checkpoints carry no config, and sizes vary (SDXL: CLIP-L 768
 * wide × 12 layers, CLIP-G 1280 × 32; test checkpoints are smaller), so every
 * number comes from a tensor shape or a key count, as ComfyUI's model
 * detection does. What shapes cannot tell:
 * - heads: every CLIP text tower in use has 64-wide heads, so heads = width / 64;
 * - activation: it follows the naming flavour. SDXL stores CLIP-L (OpenAI,
 *   quick_gelu) under HF/transformers names and CLIP-G (LAION, exact GELU)
 *   under open_clip names, and swapping them is a 2.7e-2 error, not noise.
 */
import { CheckpointError } from '../io/engineErrors.ts';
import type { WeightSource } from '../onnx/weightSource.ts';

/** Key layout: `hf` = transformers `CLIPTextModel.text_model`, `openclip` = open_clip `model`. */
export type ClipFlavour = 'hf' | 'openclip';
export type ClipActivation = 'quick_gelu' | 'gelu';

export interface ClipConfig {
  flavour: ClipFlavour;
  width: number;
  layers: number;
  heads: number;
  headDim: number;
  mlpWidth: number;
  vocab: number;
  /** Sequence length of the position table (77). */
  positions: number;
  /** Output width of `text_projection` (open_clip only); null when the tower has none. */
  projectionDim: number | null;
  activation: ClipActivation;
  /** LayerNorm eps of every CLIP LayerNorm. */
  layerNormEps: number;
}

/** Head width of every CLIP text tower (OpenAI and LAION alike). */
const HEAD_DIM = 64;

/** Checkpoint keys, relative to the tower's prefix, that each flavour's shapes are read from. */
export const CLIP_KEYS = {
  hf: {
    tokenEmbedding: 'embeddings.token_embedding.weight',
    positionEmbedding: 'embeddings.position_embedding.weight',
    layerPattern: /^encoder\.layers\.(\d+)\./,
    layer: (i: number) => `encoder.layers.${i}.`,
    mlpIn: (i: number) => `encoder.layers.${i}.mlp.fc1.weight`,
    projection: null,
  },
  openclip: {
    tokenEmbedding: 'token_embedding.weight',
    positionEmbedding: 'positional_embedding',
    layerPattern: /^transformer\.resblocks\.(\d+)\./,
    layer: (i: number) => `transformer.resblocks.${i}.`,
    mlpIn: (i: number) => `transformer.resblocks.${i}.mlp.c_fc.weight`,
    projection: 'text_projection',
  },
} as const;

/**
 * Infers the config of one text tower. `ws` is the tower's view
 * (prefixedWeights(checkpoint, 'conditioner.embedders.1.model.') and so on).
 * Throws CheckpointError when a tensor is missing or a shape is inconsistent.
 */
export function clipConfigFromWeights(ws: WeightSource, flavour: ClipFlavour): ClipConfig {
  const keys = CLIP_KEYS[flavour];
  const [vocab, width] = shapeOf(ws, keys.tokenEmbedding, 2);
  const [positions, posWidth] = shapeOf(ws, keys.positionEmbedding, 2);
  if (posWidth !== width) bad(ws, `position table width ${posWidth} differs from token width ${width}`);
  if (width % HEAD_DIM !== 0) {
    throw new CheckpointError(ws.name, 'unsupported_architecture', `CLIP width ${width} is not a multiple of the head width ${HEAD_DIM}`);
  }
  const layers = countLayers(ws, keys.layerPattern);
  if (layers === 0) bad(ws, `no transformer layers found (${flavour} names)`);
  const [mlpWidth, mlpIn] = shapeOf(ws, keys.mlpIn(0), 2);
  if (mlpIn !== width) bad(ws, `MLP input width ${mlpIn} differs from width ${width}`);
  let projectionDim: number | null = null;
  if (keys.projection) {
    const [projIn, projOut] = shapeOf(ws, keys.projection, 2);
    if (projIn !== width) bad(ws, `text_projection input width ${projIn} differs from width ${width}`);
    projectionDim = projOut;
  }
  return {
    flavour,
    width,
    layers,
    heads: width / HEAD_DIM,
    headDim: HEAD_DIM,
    mlpWidth,
    vocab,
    positions,
    projectionDim,
    activation: flavour === 'hf' ? 'quick_gelu' : 'gelu',
    layerNormEps: 1e-5,
  };
}

/** Number of layers = distinct indices under the layer pattern; they must run 0..n-1 without a gap. */
function countLayers(ws: WeightSource, pattern: RegExp): number {
  const seen = new Set<number>();
  for (const k of ws.keys()) {
    const m = pattern.exec(k);
    if (m) seen.add(Number(m[1]));
  }
  for (let i = 0; i < seen.size; i++) if (!seen.has(i)) bad(ws, `layer ${i} is missing (found ${seen.size} layer indices)`);
  return seen.size;
}

function shapeOf(ws: WeightSource, key: string, rank: number): number[] {
  const shape = ws.ref(key).shape;
  if (shape.length !== rank) bad(ws, `${key} has shape [${shape.join(',')}], expected rank ${rank}`);
  return shape;
}

function bad(ws: WeightSource, detail: string): never {
  throw new CheckpointError(ws.name, 'bad_shape', detail);
}
