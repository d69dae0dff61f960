/**
 * Neural-network building blocks shared by the CLIP, UNet and VAE graphs.
 * Each takes the builder, an input value name and the checkpoint key prefix
 * of its weights (PyTorch names: `<prefix>.weight`, `<prefix>.bias`), and
 * returns the output value name. PyTorch layouts throughout (NCHW, [B,T,C]).
 */
import type { GraphBuilder } from './graphBuilder.ts';

/** nn.Linear: x @ W^T + b on the last axis. The Transpose of an initializer is folded by ORT at load. */
export function linear(g: GraphBuilder, x: string, prefix: string, opts: { bias?: boolean } = {}): string {
  const w = g.weight(`${prefix}.weight`);
  const wt = g.op('Transpose', [w], { perm: [1, 0] });
  const y = g.op('MatMul', [x, wt]);
  const hasBias = opts.bias ?? g.hasWeight(`${prefix}.bias`);
  return hasBias ? g.op('Add', [y, g.weight(`${prefix}.bias`)]) : y;
}

/** Linear from explicit weight/bias value names ([out,in] weight). */
export function linearFrom(g: GraphBuilder, x: string, w: string, b?: string): string {
  const wt = g.op('Transpose', [w], { perm: [1, 0] });
  const y = g.op('MatMul', [x, wt]);
  return b ? g.op('Add', [y, b]) : y;
}

/** nn.Conv2d with square kernel from the weight shape. */
export function conv2d(g: GraphBuilder, x: string, prefix: string, opts: { stride?: number; padding?: number } = {}): string {
  const shape = g.weightShape(`${prefix}.weight`);
  const k = shape[2];
  const pad = opts.padding ?? Math.floor(k / 2);
  const stride = opts.stride ?? 1;
  const inputs = [x, g.weight(`${prefix}.weight`)];
  if (g.hasWeight(`${prefix}.bias`)) inputs.push(g.weight(`${prefix}.bias`));
  return g.op('Conv', inputs, { kernel_shape: [k, shape[3]], pads: [pad, pad, pad, pad], strides: [stride, stride] });
}

/**
 * GroupNorm over NCHW with affine weight/bias of shape [C].
 * Built as Reshape→InstanceNormalization→Reshape→affine: portable across
 * execution providers (GroupNormalization-21 arrived late in ORT) and computed
 * in float32 even in fp16 graphs, because GroupNorm statistics overflow fp16.
 */
export function groupNorm(g: GraphBuilder, x: string, prefix: string, channels: number, eps: number, groups = 32): string {
  const shapeX = g.op('Shape', [x]);
  const grouped = g.op('Reshape', [x, g.constInt64([0, groups, -1])]);
  const ones = g.constF32(new Array(groups).fill(1), [groups], 'gn_one');
  const zeros = g.constF32(new Array(groups).fill(0), [groups], 'gn_zero');
  const x32 = g.compute === 'float16' ? g.op('Cast', [grouped], { to: 1 }) : grouped;
  let normed = g.op('InstanceNormalization', [x32, ones, zeros], { epsilon: { float: eps } });
  if (g.compute === 'float16') normed = g.op('Cast', [normed], { to: 10 });
  const back = g.op('Reshape', [normed, shapeX]);
  const w = g.op('Reshape', [g.weight(`${prefix}.weight`), g.constInt64([1, channels, 1, 1])]);
  const b = g.op('Reshape', [g.weight(`${prefix}.bias`), g.constInt64([1, channels, 1, 1])]);
  return g.op('Add', [g.op('Mul', [back, w]), b]);
}

/** LayerNorm over the last axis. */
export function layerNorm(g: GraphBuilder, x: string, prefix: string, eps = 1e-5): string {
  return g.op('LayerNormalization', [x, g.weight(`${prefix}.weight`), g.weight(`${prefix}.bias`)], { axis: -1, epsilon: { float: eps } });
}

export function silu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])]);
}

/** Exact (erf) GELU, as torch.nn.functional.gelu's default. */
export function gelu(g: GraphBuilder, x: string): string {
  const inv = g.constScalar(Math.SQRT1_2, 'inv_sqrt2');
  const erf = g.op('Erf', [g.op('Mul', [x, inv])]);
  const half = g.constScalar(0.5, 'half');
  const one = g.constScalar(1, 'one');
  return g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [erf, one])]);
}

/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export function quickGelu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.constScalar(1.702, 'qg')])])]);
}

/**
 * Scaled dot-product attention on [B,T,C] tensors split into `heads` heads.
 * `mask` (optional) is added to the scores ([T,S] or broadcastable).
 */
export function attention(g: GraphBuilder, q: string, k: string, v: string, heads: number, headDim: number, mask?: string): string {
  const toHeads = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.constInt64([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
  const qh = toHeads(q);
  const kh = toHeads(k);
  const vh = toHeads(v);
  const kt = g.op('Transpose', [kh], { perm: [0, 1, 3, 2] });
  let scores = g.op('Mul', [g.op('MatMul', [qh, kt]), g.constScalar(1 / Math.sqrt(headDim), 'attn_scale')]);
  if (mask) scores = g.op('Add', [scores, mask]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const out = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [out, g.constInt64([0, 0, heads * headDim])]);
}

/** Nearest-neighbour ×2 upsampling of NCHW. */
export function upsampleNearest2x(g: GraphBuilder, x: string): string {
  const empty = g.constF32([], [0], 'roi');
  const scales = g.constF32([1, 1, 2, 2], [4], 'scales');
  return g.op('Resize', [x, empty, scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
}
