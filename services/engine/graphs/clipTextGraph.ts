/**
 * ONNX graphs of SDXL's two CLIP text towers, built from checkpoint weights.
 *
 * One transformer, two key layouts: CLIP-L is stored under HF/transformers
 * names (separate q/k/v projections), CLIP-G under open_clip names (one
 * `in_proj_weight` whose rows are [q; k; v]). Both are pre-LN with a causal
 * mask and no padding mask — SDXL attends to the padding tokens, and CLIP-G
 * pads with 0, CLIP-L with EOS, so the pad id changes the output.
 *
 * Output `hidden_states` stacks every residual-stream state, [L+1, B, T, W]:
 * index 0 is the embedding output, index i the output of layer i, never the
 * final LayerNorm. Fooocus's clip_skip k reads `hidden_states[-k]`, i.e.
 * index L+1-k (default 2 → L-1, the "penultimate" state), so one graph serves
 * every clip_skip and the choice stays in the caller. Cost: L+1 copies of a
 * [B,77,W] tensor, about 13 MB per prompt chunk for the real CLIP-G.
 *
 * Positions are the whole position table added in-graph: the checkpoint's
 * `position_ids` is ignored because community files store it broken or float.
 * Outputs are in the compute type.
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { attention, gelu, layerNorm, linear, linearFrom, quickGelu } from '../onnx/layers.ts';
import { prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { clipConfigFromWeights, CLIP_KEYS, type ClipConfig, type ClipFlavour } from './clipConfig.ts';

/** Where SDXL base checkpoints keep CLIP-L (HF names). */
export const CLIP_L_PREFIX = 'conditioner.embedders.0.transformer.text_model.';
/** Where SDXL base checkpoints keep CLIP-G (open_clip names). */
export const CLIP_G_PREFIX = 'conditioner.embedders.1.model.';
/** Where SDXL refiner checkpoints keep CLIP-G, their only text tower. */
export const REFINER_CLIP_G_PREFIX = 'conditioner.embedders.0.model.';

export const CLIP_INPUT_IDS = 'input_ids';
export const CLIP_HIDDEN_STATES = 'hidden_states';
export const CLIP_POOLED = 'pooled';

export interface ClipGraphOptions {
  /** The whole checkpoint; initializers keep their full checkpoint keys (for LoRA patching by name). */
  weights: WeightSource;
  /** Key prefix of the tower. Default: CLIP_L_PREFIX / CLIP_G_PREFIX (use REFINER_CLIP_G_PREFIX for refiners). */
  prefix?: string;
  /** Default: inferred from the weights with clipConfigFromWeights. */
  config?: ClipConfig;
  /** Default 'float32'. 'float16' keeps LayerNorm/softmax inputs in fp16 too (measured within 1e-2 on the golden set). */
  compute?: ComputeType;
}

export interface ClipGraph {
  model: BuiltModel;
  config: ClipConfig;
}

/** CLIP-L (HF names). Input `input_ids` int64 [B,T]; output `hidden_states` [L+1,B,T,W]. */
export function buildClipLGraph(opts: ClipGraphOptions): ClipGraph {
  return buildClipTextGraph('hf', opts.prefix ?? CLIP_L_PREFIX, opts, false);
}

/**
 * CLIP-G (open_clip names). Input `input_ids` int64 [B,T]; outputs
 * `hidden_states` [L+1,B,T,W] and `pooled` [B,P] =
 * ln_final(last layer)[argmax(input_ids)] @ text_projection.
 */
export function buildClipGGraph(opts: ClipGraphOptions): ClipGraph {
  return buildClipTextGraph('openclip', opts.prefix ?? CLIP_G_PREFIX, opts, true);
}

/** Per-flavour names of the pieces of one layer, relative to the layer prefix. */
const LAYER_NAMES = {
  hf: { ln1: 'layer_norm1', ln2: 'layer_norm2', out: 'self_attn.out_proj', fc1: 'mlp.fc1', fc2: 'mlp.fc2', final: 'final_layer_norm' },
  openclip: { ln1: 'ln_1', ln2: 'ln_2', out: 'attn.out_proj', fc1: 'mlp.c_fc', fc2: 'mlp.c_proj', final: 'ln_final' },
} as const;

function buildClipTextGraph(flavour: ClipFlavour, prefix: string, opts: ClipGraphOptions, withPooled: boolean): ClipGraph {
  const ws = prefixedWeights(opts.weights, prefix);
  const config = opts.config ?? clipConfigFromWeights(ws, flavour);
  if (config.flavour !== flavour) throw new Error(`config is for ${config.flavour} names, graph needs ${flavour}`);
  if (withPooled && config.projectionDim === null) {
    throw new CheckpointError(ws.name, 'missing_tensor', `${prefix}: no text_projection, cannot build the pooled output`);
  }
  const compute = opts.compute ?? 'float32';
  const g = new GraphBuilder(flavour === 'hf' ? 'clip_l' : 'clip_g', compute, ws);
  const keys = CLIP_KEYS[flavour];
  const names = LAYER_NAMES[flavour];
  const T = config.positions;

  const ids = g.input(CLIP_INPUT_IDS, 'int64', ['B', T]);
  const tokens = g.op('Gather', [g.weight(keys.tokenEmbedding), ids], { axis: 0 });
  // [B,T,W] + [T,W]: the position table broadcasts over the batch.
  let x = g.op('Add', [tokens, g.weight(keys.positionEmbedding)]);
  const mask = causalMask(g, T);

  const states = [x];
  for (let i = 0; i < config.layers; i++) {
    const p = keys.layer(i);
    const h = layerNorm(g, x, p + names.ln1, config.layerNormEps);
    const [q, k, v] = flavour === 'hf' ? hfQkv(g, h, p) : openclipQkv(g, h, p, config.width);
    const a = attention(g, q, k, v, config.heads, config.headDim, mask);
    x = g.op('Add', [x, linear(g, a, p + names.out)]);
    const m = linear(g, layerNorm(g, x, p + names.ln2, config.layerNormEps), p + names.fc1);
    const act = config.activation === 'quick_gelu' ? quickGelu(g, m) : gelu(g, m);
    x = g.op('Add', [x, linear(g, act, p + names.fc2)]);
    states.push(x);
  }

  const axis0 = g.constInt64([0]);
  const stacked = g.op('Concat', states.map((s) => g.op('Unsqueeze', [s, axis0])), { axis: 0 });
  g.output(stacked, CLIP_HIDDEN_STATES, compute, [config.layers + 1, 'B', T, config.width]);

  if (withPooled) {
    const normed = layerNorm(g, x, names.final, config.layerNormEps);
    // The EOS row: EOS 49407 is the largest id, and ArgMax returns the first
    // maximum as torch.argmax does (CLIP-L pads with EOS, so ties are real).
    const eos = g.op('ArgMax', [ids], { axis: 1, keepdims: 1 });
    const row = g.op('GatherND', [normed, eos], { batch_dims: 1 });
    // open_clip applies `x @ text_projection`: the weight is stored [in, out], no transpose.
    const pooled = g.op('MatMul', [row, g.weight(keys.projection!)]);
    g.output(pooled, CLIP_POOLED, compute, ['B', config.projectionDim!]);
  }
  return { model: g.build(), config };
}

function hfQkv(g: GraphBuilder, h: string, p: string): [string, string, string] {
  return [linear(g, h, `${p}self_attn.q_proj`), linear(g, h, `${p}self_attn.k_proj`), linear(g, h, `${p}self_attn.v_proj`)];
}

/** One MatMul with the packed [3W,W] weight, then Split: what nn.MultiheadAttention does, one GEMM instead of three. */
function openclipQkv(g: GraphBuilder, h: string, p: string, width: number): [string, string, string] {
  const packed = linearFrom(g, h, g.weight(`${p}attn.in_proj_weight`), g.weight(`${p}attn.in_proj_bias`));
  const [q, k, v] = g.opMulti('Split', [packed, g.constInt64([width, width, width])], 3, { axis: -1 });
  return [q, k, v];
}

/** [T,T] additive mask: -inf where key j > query i (open_clip's `build_attention_mask`). */
function causalMask(g: GraphBuilder, T: number): string {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -Infinity;
  return g.constFloat(m, [T, T], 'causal_mask');
}
