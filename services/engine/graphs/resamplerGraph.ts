/**
 * IP-Adapter Plus's image projection, the perceiver Resampler of Fooocus's
 * extras/resampler.py, as an ONNX graph built from the adapter's
 * `image_proj.*` tensors:
 *
 *   latents = image_proj.latents (repeated over the batch);  x = proj_in(clip)
 *   per layer:  latents += PerceiverAttention(x, latents);  latents += FeedForward(latents)
 *   tokens = norm_out(proj_out(latents))
 *
 * PerceiverAttention: q = to_q(LN2(latents)); k, v = chunk(to_kv([LN1(x); LN2(latents)]));
 * scores (q·d^-¼)(k·d^-¼)ᵀ, softmax in float32 (also in an fp16 graph, as
 * the original casts), to_out. FeedForward: LN, Linear ×mult, exact GELU,
 * Linear, both without bias. LayerNorms use torch's default eps 1e-5.
 *
 * Config from shapes (resamplerConfigFromWeights): query count and width
 * from `latents` [1, N, dim], the CLIP width from proj_in, depth from the key
 * count, inner width from to_q, the FF multiplier from `1.1`; the head width
 * is Fooocus's constant 64 (`dim_head=64`), so heads = inner / 64
 * (20 for SDXL Plus, whose inner width is 1280).
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { gelu, layerNorm, linear } from '../onnx/layers.ts';
import { prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { CheckpointError } from '../io/engineErrors.ts';

export const RESAMPLER_PREFIX = 'image_proj.';
export const RESAMPLER_IO = { image: 'image_hidden', tokens: 'tokens' } as const;
/** Fooocus builds every Resampler with `dim_head=64`. */
export const RESAMPLER_HEAD_DIM = 64;
const LN_EPS = 1e-5;

export interface ResamplerConfig {
  /** Latent width (`dim`). */
  dim: number;
  depth: number;
  headDim: number;
  heads: number;
  /** Number of output tokens (`latents.shape[1]`). */
  numQueries: number;
  /** Width of the CLIP vision hidden states it reads. */
  embeddingDim: number;
  /** Token width (= the UNet's cross-attention width). */
  outputDim: number;
  ffMult: number;
}

/** `weights` has keys relative to `image_proj.`. */
export function resamplerConfigFromWeights(weights: WeightSource): ResamplerConfig {
  const name = weights.name;
  const shape = (key: string, rank: number): number[] => {
    if (!weights.has(key)) throw new CheckpointError(name, 'missing_tensor', `IP-Adapter Resampler: tensor ${RESAMPLER_PREFIX}${key} is missing`);
    const s = weights.ref(key).shape;
    if (s.length !== rank) throw new CheckpointError(name, 'bad_shape', `IP-Adapter Resampler: ${RESAMPLER_PREFIX}${key} has shape [${s.join(', ')}], expected rank ${rank}`);
    return s;
  };
  const [, numQueries, dim] = shape('latents', 3);
  const [projInOut, embeddingDim] = shape('proj_in.weight', 2);
  if (projInOut !== dim) throw new CheckpointError(name, 'bad_shape', `IP-Adapter Resampler: proj_in gives ${projInOut}, latents are ${dim} wide`);
  const [outputDim, projOutIn] = shape('proj_out.weight', 2);
  if (projOutIn !== dim) throw new CheckpointError(name, 'bad_shape', `IP-Adapter Resampler: proj_out takes ${projOutIn}, latents are ${dim} wide`);
  let depth = 0;
  for (const key of weights.keys()) {
    const m = /^layers\.(\d+)\./.exec(key);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (depth === 0) throw new CheckpointError(name, 'missing_tensor', 'IP-Adapter Resampler: no layers (not an IP-Adapter Plus file?)');
  const [inner] = shape('layers.0.0.to_q.weight', 2);
  const [ffHidden] = shape('layers.0.1.1.weight', 2);
  if (inner % RESAMPLER_HEAD_DIM !== 0) throw new CheckpointError(name, 'unsupported_architecture', `IP-Adapter Resampler: inner width ${inner} is not a multiple of ${RESAMPLER_HEAD_DIM}`);
  shape('norm_out.weight', 1);
  return { dim, depth, headDim: RESAMPLER_HEAD_DIM, heads: inner / RESAMPLER_HEAD_DIM, numQueries, embeddingDim, outputDim, ffMult: ffHidden / dim };
}

export interface ResamplerGraphOptions {
  /** The IP-Adapter file's tensors (`image_proj.*`, `ip_adapter.*`). */
  weights: WeightSource;
  config?: ResamplerConfig;
  /** Default 'float32'. */
  compute?: ComputeType;
}

/** Input `image_hidden` float32 [B, T, embeddingDim] → `tokens` float32 [B, numQueries, outputDim]. */
export function buildResamplerGraph(opts: ResamplerGraphOptions): { model: BuiltModel; config: ResamplerConfig } {
  const ws = prefixedWeights(opts.weights, RESAMPLER_PREFIX);
  const config = opts.config ?? resamplerConfigFromWeights(ws);
  const compute = opts.compute ?? 'float32';
  const fp16 = compute === 'float16';
  const g = new GraphBuilder('ip_resampler', compute, ws);

  let image = g.input(RESAMPLER_IO.image, 'float32', ['B', 'T', config.embeddingDim]);
  if (fp16) image = g.op('Cast', [image], { to: 10 });
  const x = linear(g, image, 'proj_in');
  const batch = g.op('Slice', [g.op('Shape', [x]), g.constInt64([0]), g.constInt64([1])]);
  let latents = g.op('Expand', [g.weight('latents'), g.op('Concat', [batch, g.constInt64([config.numQueries, config.dim])], { axis: 0 })]);
  for (let i = 0; i < config.depth; i++) {
    latents = g.op('Add', [perceiverAttention(g, x, latents, `layers.${i}.0`, config), latents]);
    latents = g.op('Add', [feedForward(g, latents, `layers.${i}.1`), latents]);
  }
  let tokens = layerNorm(g, linear(g, latents, 'proj_out'), 'norm_out', LN_EPS);
  if (fp16) tokens = g.op('Cast', [tokens], { to: 1 });
  g.output(tokens, RESAMPLER_IO.tokens, 'float32', ['B', config.numQueries, config.outputDim]);
  return { model: g.build(), config };
}

function perceiverAttention(g: GraphBuilder, x: string, latents: string, p: string, c: ResamplerConfig): string {
  const xn = layerNorm(g, x, `${p}.norm1`, LN_EPS);
  const ln = layerNorm(g, latents, `${p}.norm2`, LN_EPS);
  const inner = c.heads * c.headDim;
  const q = linear(g, ln, `${p}.to_q`, { bias: false });
  const kv = linear(g, g.op('Concat', [xn, ln], { axis: 1 }), `${p}.to_kv`, { bias: false });
  const [k, v] = g.opMulti('Split', [kv, g.constInt64([inner, inner])], 2, { axis: -1 });
  const heads = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.constInt64([0, 0, c.heads, c.headDim])])], { perm: [0, 2, 1, 3] });
  const scale = g.constScalar(1 / Math.sqrt(Math.sqrt(c.headDim)), 'perceiver_scale');
  const qh = heads(g.op('Mul', [q, scale]));
  const kt = g.op('Transpose', [heads(g.op('Mul', [k, scale]))], { perm: [0, 1, 3, 2] });
  let scores = g.op('MatMul', [qh, kt]);
  if (g.compute === 'float16') scores = g.op('Cast', [scores], { to: 1 });
  let probs = g.op('Softmax', [scores], { axis: -1 });
  if (g.compute === 'float16') probs = g.op('Cast', [probs], { to: 10 });
  const out = g.op('Transpose', [g.op('MatMul', [probs, heads(v)])], { perm: [0, 2, 1, 3] });
  return linear(g, g.op('Reshape', [out, g.constInt64([0, 0, inner])]), `${p}.to_out`, { bias: false });
}

/** nn.Sequential(LayerNorm, Linear(no bias), GELU, Linear(no bias)): keys `.0`, `.1`, `.3`. */
function feedForward(g: GraphBuilder, x: string, p: string): string {
  const h = linear(g, layerNorm(g, x, `${p}.0`, LN_EPS), `${p}.1`, { bias: false });
  return linear(g, gelu(g, h), `${p}.3`, { bias: false });
}
