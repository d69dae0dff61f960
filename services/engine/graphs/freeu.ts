/**
 * FreeU_V2 as Fooocus applies it (`core.apply_freeu` → ComfyUI
 * `external_freelunch.FreeU_V2`, pipeline.md §1.10): a patch on (h, skip)
 * right before each output block concatenates them, chosen by h's channel
 * count — 4·model_channels → (b1, s1), 2·model_channels → (b2, s2), anything
 * else unchanged.
 *
 * Backbone: m = mean over channels of h, min-max normalised per sample over
 * H×W; `h[:, :C/2] *= (b − 1)·m + 1`. (A constant m divides 0 by 0 and gives
 * NaN, exactly as ComfyUI does; it needs an h whose channel mean is flat.)
 *
 * Skip: Fooocus runs `Re(IFFT2(FFT2(skip)·mask))` with mask = s on the
 * fftshift-centred 2×2 block, i.e. on the DFT modes {0, −1} of each axis (odd
 * sizes too). Everything outside those 4 modes passes unchanged, so
 *
 *   skip' = skip + (s − 1)·Re(P(skip)),   P = Py ⊗ Px,
 *
 * with Py the projection onto the y-modes {0, −1}: Py = (1/H)(1·1ᵀ + v·vᴴ),
 * v[y] = e^{−iθy}, θ = 2π/H. Writing Py = Ay + i·By gives
 * Ay[y,y'] = (1 + cos θ(y−y'))/H and By[y,y'] = −sin θ(y−y')/H, and
 * Re(P(S)) = Ay·S·Axᵀ − By·S·Bxᵀ. Both are rank 3 in the basis
 * F(y) = [1, cos θy, sin θy]:
 *
 *   Ay = F·Fᵀ/H,   By = F·R·Fᵀ/H  with  R = [[0,0,0],[0,0,−1],[0,1,0]]
 *   (F(y)·R = [0, sin θy, −cos θy], and sin θy·cos θy' − cos θy·sin θy'
 *   = sin θ(y − y')), so, with the 3×3 moments M = Fyᵀ·S·Gx/(H·W) per
 *   (sample, channel) and G the same basis along x:
 *
 *   Re(P(S)) = Fy·(M − R·M·Rᵀ)·Gxᵀ.
 *
 * That is two small reductions (S·Gx → [.., H, 3], Fyᵀ·that → [.., 3, 3]) and
 * two small expansions instead of an FFT: O(6·H·W) per channel. Checked
 * against the golden FreeU debug tensors (golden-features §7; the README's own
 * float64 DFT cross-check agrees with the stored values to 2.7e-6).
 *
 * Dynamic sizes: H and W are not known when the graph is built (one session
 * serves every resolution), so the cos/sin bases are computed in the graph
 * from Shape → Range → Cos/Sin, a few hundred floats per patched block. A
 * side of 1 has a single mode (−1 ≡ 0): its cos/sin rows are multiplied by
 * (n > 1), so the mode is not counted twice (torch's slice `[-1:1]` of a
 * length-1 axis also selects it once).
 *
 * Parameters are a graph input (`freeu` float32 [4] = b1, b2, s1, s2), so one
 * session serves any values. The patch is computed in float32 even in fp16
 * graphs: Fooocus' filter runs `x.float()`, and the channel mean of 1280
 * fp16 values is where fp16 would lose most.
 */
import type { GraphBuilder } from '../onnx/graphBuilder.ts';

/** FreeU_V2 parameters; Fooocus' defaults are b1 1.01, b2 1.02, s1 0.99, s2 0.95. */
export interface FreeuParams {
  /** Backbone factor of the 4·model_channels blocks. */
  b1: number;
  /** Backbone factor of the 2·model_channels blocks. */
  b2: number;
  /** Skip low-frequency scale of the 4·model_channels blocks. */
  s1: number;
  /** Skip low-frequency scale of the 2·model_channels blocks. */
  s2: number;
}

/** Graph input name: float32 [4] = b1, b2, s1, s2. */
export const FREEU_INPUT = 'freeu';

/** The `freeu` input tensor for a parameter set. */
export function freeuInput(p: FreeuParams): Float32Array {
  return Float32Array.of(p.b1, p.b2, p.s1, p.s2);
}

/** Which parameter pair applies to an h of `channels` channels: 1 → (b1, s1), 2 → (b2, s2), null → none. */
export function freeuStage(channels: number, modelChannels: number): 1 | 2 | null {
  if (channels === 4 * modelChannels) return 1;
  if (channels === 2 * modelChannels) return 2;
  return null;
}

export interface FreeuPatchInput {
  /** The block's incoming h, [B, hChannels, H, W], compute type. */
  h: string;
  /** The skip about to be concatenated, [B, C', H, W], compute type. */
  skip: string;
  hChannels: number;
  /** The `freeu` graph input (float32 [4]). */
  params: string;
  stage: 1 | 2;
}

/** Returns the patched (h, skip), in the graph's compute type. */
export function freeuPatch(g: GraphBuilder, input: FreeuPatchInput): { h: string; skip: string } {
  const fp16 = g.compute === 'float16';
  const to32 = (v: string) => (fp16 ? g.op('Cast', [v], { to: 1 }) : v);
  const back = (v: string) => (fp16 ? g.op('Cast', [v], { to: 10 }) : v);
  const b = g.op('Gather', [input.params, g.constInt64([input.stage - 1], [])], { axis: 0 });
  const s = g.op('Gather', [input.params, g.constInt64([input.stage + 1], [])], { axis: 0 });
  const one = g.constF32([1], [], 'freeu_one');
  return {
    h: back(scaleBackbone(g, to32(input.h), input.hChannels, g.op('Sub', [b, one]))),
    skip: back(filterSkip(g, to32(input.skip), g.op('Sub', [s, one]))),
  };
}

/** `h[:, :C/2] *= bMinus1·norm(mean_c h) + 1`, float32. */
function scaleBackbone(g: GraphBuilder, h: string, channels: number, bMinus1: string): string {
  const half = Math.floor(channels / 2);
  const mean = g.op('ReduceMean', [h, g.constInt64([1])], { keepdims: 1 });
  const spatial = g.constInt64([2, 3]);
  const max = g.op('ReduceMax', [mean, spatial], { keepdims: 1 });
  const min = g.op('ReduceMin', [mean, spatial], { keepdims: 1 });
  const norm = g.op('Div', [g.op('Sub', [mean, min]), g.op('Sub', [max, min])]);
  const factor = g.op('Add', [g.op('Mul', [bMinus1, norm]), g.constF32([1], [], 'freeu_one')]);
  const first = g.op('Slice', [h, g.constInt64([0]), g.constInt64([half]), g.constInt64([1])]);
  const rest = g.op('Slice', [h, g.constInt64([half]), g.constInt64([channels]), g.constInt64([1])]);
  return g.op('Concat', [g.op('Mul', [first, factor]), rest], { axis: 1 });
}

/** `skip + sMinus1·Re(P(skip))`, float32 (see the file comment for P). */
function filterSkip(g: GraphBuilder, skip: string, sMinus1: string): string {
  const shape = g.op('Shape', [skip]);
  const h = g.op('Gather', [shape, g.constInt64([2], [])], { axis: 0 });
  const w = g.op('Gather', [shape, g.constInt64([3], [])], { axis: 0 });
  const fy = modeBasis(g, h); // [H, 3]
  const gx = modeBasis(g, w); // [W, 3]
  const area = g.op('Cast', [g.op('Mul', [h, w])], { to: 1 });
  // M = Fyᵀ·S·Gx / (H·W): [B, C, 3, 3].
  const sg = g.op('MatMul', [skip, gx]);
  const m = g.op('Div', [g.op('MatMul', [g.op('Transpose', [fy], { perm: [1, 0] }), sg]), area]);
  const r = g.constF32([0, 0, 0, 0, 0, -1, 0, 1, 0], [3, 3], 'freeu_r');
  const rt = g.constF32([0, 0, 0, 0, 0, 1, 0, -1, 0], [3, 3], 'freeu_rt');
  const q = g.op('Sub', [m, g.op('MatMul', [g.op('MatMul', [r, m]), rt])]);
  const low = g.op('MatMul', [g.op('MatMul', [fy, q]), g.op('Transpose', [gx], { perm: [1, 0] })]);
  return g.op('Add', [skip, g.op('Mul', [sMinus1, low])]);
}

/** [n, 3] = [1, c·cos(2πk/n), c·sin(2πk/n)] for k < n, c = (n > 1); `n` an int64 scalar. */
function modeBasis(g: GraphBuilder, n: string): string {
  const k = g.op('Cast', [g.op('Range', [g.constInt64([0], []), n, g.constInt64([1], [])])], { to: 1 });
  const nf = g.op('Cast', [n], { to: 1 });
  const angle = g.op('Div', [g.op('Mul', [k, g.constF32([2 * Math.PI], [], 'two_pi')]), nf]);
  const distinct = g.op('Cast', [g.op('Greater', [n, g.constInt64([1], [])])], { to: 1 });
  const column = (v: string) => g.op('Unsqueeze', [v, g.constInt64([1])]);
  const ones = g.op('Add', [g.op('Mul', [k, g.constF32([0], [], 'zero')]), g.constF32([1], [], 'freeu_one')]);
  const cos = g.op('Mul', [g.op('Cos', [angle]), distinct]);
  const sin = g.op('Mul', [g.op('Sin', [angle]), distinct]);
  return g.op('Concat', [column(ones), column(cos), column(sin)], { axis: 1 });
}

/** The patch alone as a graph (inputs h, skip, freeu; outputs h_out, skip_out): for tests and golden debug tensors. */
export function buildFreeuPatchGraph(g: GraphBuilder, hChannels: number, modelChannels: number): void {
  const stage = freeuStage(hChannels, modelChannels);
  if (stage === null) throw new Error(`FreeU does not patch an h of ${hChannels} channels (model_channels ${modelChannels})`);
  const io = g.compute;
  const h = g.input('h', io, ['B', hChannels, 'H', 'W']);
  const skip = g.input('skip', io, ['B', 'C', 'H', 'W']);
  const params = g.input(FREEU_INPUT, 'float32', [4]);
  const out = freeuPatch(g, { h, skip, hChannels, params, stage });
  g.output(out.h, 'h_out', io, ['B', hChannels, 'H', 'W']);
  g.output(out.skip, 'skip_out', io, ['B', 'C', 'H', 'W']);
}
