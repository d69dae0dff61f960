/**
 * ONNX graph of a GPT-2 language model (HF `GPT2LMHeadModel`), built from
 * its state dict: the Fooocus V2 prompt expansion model (pipeline.md §1.3).
 *
 * One graph with a KV cache, used for both phases of generation:
 *   inputs  `input_ids` int64 [B,T];
 *           `past.{i}.key`, `past.{i}.value` [B,H,P,D] per layer, P ≥ 0
 *           (the prompt pass feeds P = 0, i.e. empty tensors);
 *   outputs `logits` float32 [B,T,V] (every position: the golden set checks
 *           the prompt's logits too; generation reads the last row);
 *           `present.{i}.key`, `present.{i}.value` [B,H,P+T,D] = past ‖ new,
 *           fed back as the next step's past.
 * Positions are P…P+T−1, taken from the past's length inside the graph, and
 * query t attends to keys 0…P+t (causal within the new tokens, everything in
 * the past). No padding mask: Fooocus expands one unpadded prompt at a time.
 * KV tensors are in the compute type, so a caller can hand ORT's outputs
 * straight back as inputs without converting them.
 *
 * HF layout details that matter: Conv1D weights are [in, out] (y = x@W + b,
 * no transpose); `c_attn` packs [q | k | v] along its output; `gelu_new` is
 * the tanh approximation; `lm_head` is tied to `wte` (logits = h @ wteᵀ);
 * the `attn.bias` / `attn.masked_bias` buffers are not weights and are
 * ignored (the mask is built here). Masked scores become the dtype's most
 * negative finite value, as HF does, not −inf.
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { layerNorm } from '../onnx/layers.ts';
import type { WeightSource } from '../onnx/weightSource.ts';
import { CheckpointError } from '../io/engineErrors.ts';

export const GPT2_IO = {
  inputIds: 'input_ids',
  logits: 'logits',
  pastKey: (layer: number) => `past.${layer}.key`,
  pastValue: (layer: number) => `past.${layer}.value`,
  presentKey: (layer: number) => `present.${layer}.key`,
  presentValue: (layer: number) => `present.${layer}.value`,
} as const;

export type Gpt2Activation = 'gelu_new' | 'gelu' | 'relu';

export interface Gpt2Config {
  layers: number;
  width: number;
  heads: number;
  headDim: number;
  vocab: number;
  positions: number;
  /** MLP width (`n_inner`, default 4·width). */
  innerWidth: number;
  layerNormEps: number;
  activation: Gpt2Activation;
  /** Divide scores by √headDim (`scale_attn_weights`, default true). */
  scaleAttnWeights: boolean;
  /** Also divide by layer index + 1 (`scale_attn_by_inverse_layer_idx`, default false). */
  scaleByInverseLayerIdx: boolean;
  /** lm_head = wte (`tie_word_embeddings`, default true). */
  tiedLmHead: boolean;
}

/** HF names of the state dict (GPT2LMHeadModel). */
export const GPT2_KEYS = {
  wte: 'transformer.wte.weight',
  wpe: 'transformer.wpe.weight',
  lnF: 'transformer.ln_f',
  lmHead: 'lm_head.weight',
  layer: (i: number) => `transformer.h.${i}.`,
} as const;

/** State-dict entries that are buffers, not parameters: never needed by the graph. */
export function isGpt2Buffer(key: string): boolean {
  return /\.attn\.(bias|masked_bias)$/.test(key);
}

const ACTIVATIONS: Record<string, Gpt2Activation> = {
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  gelu_fast: 'gelu_new',
  gelu: 'gelu',
  relu: 'relu',
};

/** Reads a HF GPT-2 `config.json` object; CheckpointError naming `file` when a field is missing or unsupported. */
export function gpt2ConfigFromJson(json: Record<string, unknown>, file: string): Gpt2Config {
  const int = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new CheckpointError(file, 'bad_header', `config.json: ${key} is ${JSON.stringify(v)}, expected a positive integer`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'boolean') throw new CheckpointError(file, 'bad_header', `config.json: ${key} is ${JSON.stringify(v)}, expected true/false`);
    return v;
  };
  if (json.model_type !== undefined && json.model_type !== 'gpt2') {
    throw new CheckpointError(file, 'unsupported_architecture', `config.json: model_type ${JSON.stringify(json.model_type)}, expected gpt2`);
  }
  if (json.add_cross_attention === true) throw new CheckpointError(file, 'unsupported_architecture', 'config.json: cross-attention GPT-2 is not supported');
  const width = int('n_embd');
  const heads = int('n_head');
  if (width % heads !== 0) throw new CheckpointError(file, 'bad_header', `config.json: n_embd ${width} is not a multiple of n_head ${heads}`);
  const act = String(json.activation_function ?? 'gelu_new');
  const activation = ACTIVATIONS[act];
  if (!activation) throw new CheckpointError(file, 'unsupported_architecture', `config.json: activation_function ${act} is not supported`);
  const eps = json.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new CheckpointError(file, 'bad_header', `config.json: layer_norm_epsilon is ${JSON.stringify(eps)}`);
  return {
    layers: int('n_layer'),
    width,
    heads,
    headDim: width / heads,
    vocab: int('vocab_size'),
    positions: int('n_positions'),
    innerWidth: json.n_inner == null ? 4 * width : int('n_inner'),
    layerNormEps: eps,
    activation,
    scaleAttnWeights: bool('scale_attn_weights', true),
    scaleByInverseLayerIdx: bool('scale_attn_by_inverse_layer_idx', false),
    tiedLmHead: bool('tie_word_embeddings', true),
  };
}

/** Every tensor the graph reads with the shape the config implies; a mismatch is a CheckpointError naming the key. */
export function checkGpt2Weights(weights: WeightSource, c: Gpt2Config): void {
  const want: [string, number[]][] = [[GPT2_KEYS.wte, [c.vocab, c.width]], [GPT2_KEYS.wpe, [c.positions, c.width]], [`${GPT2_KEYS.lnF}.weight`, [c.width]], [`${GPT2_KEYS.lnF}.bias`, [c.width]]];
  if (!c.tiedLmHead) want.push([GPT2_KEYS.lmHead, [c.vocab, c.width]]);
  for (let i = 0; i < c.layers; i++) {
    const p = GPT2_KEYS.layer(i);
    want.push(
      [`${p}ln_1.weight`, [c.width]], [`${p}ln_1.bias`, [c.width]],
      [`${p}attn.c_attn.weight`, [c.width, 3 * c.width]], [`${p}attn.c_attn.bias`, [3 * c.width]],
      [`${p}attn.c_proj.weight`, [c.width, c.width]], [`${p}attn.c_proj.bias`, [c.width]],
      [`${p}ln_2.weight`, [c.width]], [`${p}ln_2.bias`, [c.width]],
      [`${p}mlp.c_fc.weight`, [c.width, c.innerWidth]], [`${p}mlp.c_fc.bias`, [c.innerWidth]],
      [`${p}mlp.c_proj.weight`, [c.innerWidth, c.width]], [`${p}mlp.c_proj.bias`, [c.width]],
    );
  }
  for (const [key, shape] of want) {
    if (!weights.has(key)) throw new CheckpointError(weights.name, 'missing_tensor', `tensor ${key} is missing (config.json says ${c.layers} layers of width ${c.width})`);
    const got = weights.ref(key).shape;
    if (got.join(',') !== shape.join(',')) throw new CheckpointError(weights.name, 'bad_shape', `tensor ${key} has shape [${got}], config.json implies [${shape}]`);
  }
}

export interface Gpt2GraphOptions {
  weights: WeightSource;
  config: Gpt2Config;
  /** Default 'float32'. */
  compute?: ComputeType;
}

export function buildGpt2Graph(opts: Gpt2GraphOptions): BuiltModel {
  const c = opts.config;
  checkGpt2Weights(opts.weights, c);
  const compute = opts.compute ?? 'float32';
  const g = new GraphBuilder('gpt2', compute, opts.weights);
  const { heads: H, headDim: D, width: C } = c;

  const ids = g.input(GPT2_IO.inputIds, 'int64', ['B', 'T']);
  const past = Array.from({ length: c.layers }, (_, i) => ({
    key: g.input(GPT2_IO.pastKey(i), compute, ['B', H, 'P', D]),
    value: g.input(GPT2_IO.pastValue(i), compute, ['B', H, 'P', D]),
  }));

  // P (past length) and T (new tokens) as int64 scalars.
  const scalarAt = (shapeOf: string, index: number) => g.op('Squeeze', [g.op('Gather', [g.op('Shape', [shapeOf]), g.constInt64([index])], { axis: 0 }), g.constInt64([0])]);
  const P = scalarAt(past[0].key, 2);
  const T = scalarAt(ids, 1);
  const one = g.constInt64([1], [], 'one');
  const zero = g.constInt64([0], [], 'zero');
  const total = g.op('Add', [P, T]);
  const queryPos = g.op('Range', [P, total, one]); // [T]
  const keyPos = g.op('Range', [zero, total, one]); // [P+T]

  const tokens = g.op('Gather', [g.weight(GPT2_KEYS.wte), ids], { axis: 0 }); // [B,T,C]
  let x = g.op('Add', [tokens, g.op('Gather', [g.weight(GPT2_KEYS.wpe), queryPos], { axis: 0 })]);

  // [T, P+T]: key j visible to query t iff j ≤ P+t.
  const visible = g.op('LessOrEqual', [g.op('Unsqueeze', [keyPos, g.constInt64([0])]), g.op('Unsqueeze', [queryPos, g.constInt64([1])])]);
  const masked = g.constScalar(compute === 'float16' ? -65504 : -3.4028234663852886e38, 'mask_min');

  for (let i = 0; i < c.layers; i++) {
    const p = GPT2_KEYS.layer(i);
    const h = layerNorm(g, x, `${p}ln_1`, c.layerNormEps);
    const qkv = conv1d(g, h, `${p}attn.c_attn`);
    const [q, k, v] = g.opMulti('Split', [qkv, g.constInt64([C, C, C])], 3, { axis: -1 });
    const toHeads = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.constInt64([0, 0, H, D])])], { perm: [0, 2, 1, 3] });
    const keys = g.op('Concat', [past[i].key, toHeads(k)], { axis: 2 }, GPT2_IO.presentKey(i));
    const values = g.op('Concat', [past[i].value, toHeads(v)], { axis: 2 }, GPT2_IO.presentValue(i));
    g.output(keys, GPT2_IO.presentKey(i), compute, ['B', H, 'P+T', D]);
    g.output(values, GPT2_IO.presentValue(i), compute, ['B', H, 'P+T', D]);

    let scale = c.scaleAttnWeights ? 1 / Math.sqrt(D) : 1;
    if (c.scaleByInverseLayerIdx) scale /= i + 1;
    let scores = g.op('MatMul', [toHeads(q), g.op('Transpose', [keys], { perm: [0, 1, 3, 2] })]);
    if (scale !== 1) scores = g.op('Mul', [scores, g.constScalar(scale, 'attn_scale')]);
    scores = g.op('Where', [visible, scores, masked]);
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const merged = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, values])], { perm: [0, 2, 1, 3] }), g.constInt64([0, 0, C])]);
    x = g.op('Add', [x, conv1d(g, merged, `${p}attn.c_proj`)]);

    const m = conv1d(g, layerNorm(g, x, `${p}ln_2`, c.layerNormEps), `${p}mlp.c_fc`);
    x = g.op('Add', [x, conv1d(g, activation(g, m, c.activation), `${p}mlp.c_proj`)]);
  }

  const normed = layerNorm(g, x, GPT2_KEYS.lnF, c.layerNormEps);
  const head = c.tiedLmHead ? GPT2_KEYS.wte : GPT2_KEYS.lmHead;
  let logits = g.op('MatMul', [normed, g.op('Transpose', [g.weight(head)], { perm: [1, 0] })]);
  if (compute === 'float16') logits = g.op('Cast', [logits], { to: 1 });
  g.output(logits, GPT2_IO.logits, 'float32', ['B', 'T', c.vocab]);
  return g.build();
}

/** HF Conv1D: y = x @ W + b with W stored [in, out]. */
function conv1d(g: GraphBuilder, x: string, prefix: string): string {
  return g.op('Add', [g.op('MatMul', [x, g.weight(`${prefix}.weight`)]), g.weight(`${prefix}.bias`)]);
}

function activation(g: GraphBuilder, x: string, kind: Gpt2Activation): string {
  switch (kind) {
    case 'relu':
      return g.op('Relu', [x]);
    case 'gelu': {
      const erf = g.op('Erf', [g.op('Mul', [x, g.constScalar(Math.SQRT1_2, 'inv_sqrt2')])]);
      return g.op('Mul', [g.op('Mul', [x, g.constScalar(0.5, 'half')]), g.op('Add', [erf, g.constScalar(1, 'one')])]);
    }
    case 'gelu_new': {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
      const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.constScalar(0.044715, 'gelu_c')])]), g.constScalar(Math.sqrt(2 / Math.PI), 'gelu_k')]);
      const t = g.op('Tanh', [inner]);
      return g.op('Mul', [g.op('Mul', [x, g.constScalar(0.5, 'half')]), g.op('Add', [t, g.constScalar(1, 'one')])]);
    }
  }
}
