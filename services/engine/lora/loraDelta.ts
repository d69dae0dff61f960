/**
 * The weight update of one patch, `W += strength · ΔW`, in float32, as
 * Fooocus's `calculate_weight` computes it (F `ldm_patched/modules/model_patcher.py`):
 *  - lora: ΔW = (alpha/rank) · up.flatten(1) @ down.flatten(1), rank = down.shape[0]
 *    (factor 1 without alpha); with a CP/Tucker mid [r,r,kh,kw] and down [r,Cin,1,1],
 *    down is first replaced by down'[a,i,y,x] = Σ_b mid[a,b,y,x]·down[b,i];
 *  - loha: ΔW = (alpha/w1b.shape[0]) · (w1a@w1b) ∘ (w2a@w2b), or with CP cores
 *    einsum('ijkl,jr,ip->prkl', t, wb, wa) for each factor;
 *  - lokr: ΔW = (alpha/dim) · kron(w1, w2), each factor given whole or as a@b
 *    (w2 optionally Tucker), dim = the inner size of the last factor given as a@b;
 *  - glora: ΔW = (alpha/a1.shape[0]) · (b2@b1 + (W@a2)@a1), W the weight so far;
 *  - diff: ΔW = the tensor itself (shape must equal the weight's);
 *  - fooocus: ΔW = q/255·(max − min) + min, q the U8 tensor of the weight's
 *    shape, min/max 0-dim (Fooocus' inpaint patch), float32 steps as torch.
 * ΔW is reshaped to the weight (only the element count must agree); when it
 * does not, Fooocus prints an error and leaves the weight alone — the caller
 * checks `deltaShapeError` first and reports instead.
 *
 * Speed: the products are rank-r updates of large weights (SDXL: 1280×1280
 * and 10240×1280 at r = 4…128). The plain LoRA product — nearly all of the
 * work — goes through a LowRankUpdater (lowRankUpdate.ts: onnxruntime's
 * GEMM); everything else uses addScaledProduct here, a blocked outer-product
 * accumulation: two output rows at a time, four down-rows at a time, into
 * float64 accumulator rows (contiguous, L1-resident) that are scaled and
 * added to the float32 weight once. No allocation per element. Measured
 * 1.5 GMAC/s single-threaded (1.0 unblocked). Summing in float64 and rounding
 * once keeps the result within an ulp of torch's float32 mm (golden merge
 * tolerance: rtol 1e-5, float64 reference ≤ 3e-8).
 */
import type { LoraPatch } from './loraFile.ts';
import type { LowRankUpdater } from './lowRankUpdate.ts';

/** A tensor read from the LoRA file, as float32. */
export interface LoraTensor {
  data: Float32Array;
  shape: number[];
}

export type TensorReader = (name: string) => LoraTensor;
export type ShapeReader = (name: string) => number[];

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Why a patch cannot be applied to a weight of `target` shape (null when it
 * can), from tensor shapes alone: factors that cannot be multiplied, or a
 * product with another element count than the weight.
 */
export function deltaShapeError(patch: LoraPatch, target: readonly number[], shapeOf: ShapeReader): string | null {
  const want = numel(target);
  const got = (n: number, what: string) => (n === want ? null : `${what} has ${n} values, the weight [${target.join(',')}] has ${want}`);
  const inner = (a: number[], b: number[], what: string) => {
    const k = numel(a) / a[0];
    return k === b[0] ? null : `${what}: inner sizes ${k} and ${b[0]} differ`;
  };
  switch (patch.kind) {
    case 'lora': {
      const up = shapeOf(patch.up);
      let down = shapeOf(patch.down);
      if (patch.mid !== null) {
        const mid = shapeOf(patch.mid);
        if (mid.length !== 4 || mid[0] !== mid[1] || numel(down) / down[0] !== down[1] || mid[1] !== down[0]) {
          return `lora_mid [${mid}] does not fit lora_down [${down}]`;
        }
        down = [mid[0], down[1], mid[2], mid[3]];
      }
      return inner(up, down, 'lora_up @ lora_down') ?? got(up[0] * (numel(down) / down[0]), 'lora_up @ lora_down');
    }
    case 'loha': {
      const f1 = lohaFactorShape(patch.w1a, patch.w1b, patch.t1, shapeOf);
      const f2 = lohaFactorShape(patch.w2a, patch.w2b, patch.t2, shapeOf);
      if (typeof f1 === 'string') return f1;
      if (typeof f2 === 'string') return f2;
      if (f1 !== f2) return `hada factors have ${f1} and ${f2} values`;
      return got(f1, 'hada_w1 ∘ hada_w2');
    }
    case 'lokr': {
      const w1 = lokrFactorShape(patch.w1, patch.w1a, patch.w1b, null, shapeOf, 'lokr_w1');
      const w2 = lokrFactorShape(patch.w2, patch.w2a, patch.w2b, patch.t2, shapeOf, 'lokr_w2');
      if (typeof w1 === 'string') return w1;
      if (typeof w2 === 'string') return w2;
      return got(numel(w1) * numel(w2), 'kron(lokr_w1, lokr_w2)');
    }
    case 'glora': {
      const [a1, a2, b1, b2] = [patch.a1, patch.a2, patch.b1, patch.b2].map(shapeOf);
      const rows = target[0];
      const cols = want / rows;
      if (numel(a2) / a2[0] !== a1[0] || a2[0] !== cols || numel(a1) / a1[0] !== cols) return `GLoRA a1 [${a1}] / a2 [${a2}] do not fit the weight`;
      return inner(b2, b1, 'GLoRA b2 @ b1') ?? got(b2[0] * (numel(b1) / b1[0]), 'GLoRA b2 @ b1');
    }
    case 'diff': {
      const s = shapeOf(patch.tensor);
      return s.length === target.length && s.every((d, i) => d === target[i]) ? null : `diff [${s}] differs from the weight [${target.join(',')}]`;
    }
    case 'fooocus': {
      const s = shapeOf(patch.q);
      if (numel(shapeOf(patch.min)) !== 1 || numel(shapeOf(patch.max)) !== 1) return 'fooocus patch min/max are not scalars';
      return s.length === target.length && s.every((d, i) => d === target[i]) ? null : `fooocus patch [${s}] differs from the weight [${target.join(',')}]`;
    }
  }
}

/**
 * w += strength · ΔW(patch), in place. `w` holds the weight (or its row
 * block) in row-major order of `shape`; shapes must have passed deltaShapeError.
 * `updater` computes the plain LoRA product (default: addScaledProduct).
 */
export async function addPatchDelta(
  w: Float32Array, shape: readonly number[], patch: LoraPatch, strength: number, read: TensorReader, updater?: LowRankUpdater,
): Promise<void> {
  const rows = shape[0];
  const cols = w.length / rows;
  switch (patch.kind) {
    case 'lora': {
      const f = loraFactors(patch, strength, read);
      if (updater) await updater.add(w, f.a, f.b, f.m, f.k, f.n, f.scale);
      else addScaledProduct(w, f.a, f.b, f.m, f.k, f.n, f.scale);
      return;
    }
    case 'loha': {
      const w1b = read(patch.w1b);
      const scale = strength * (patch.alpha === null ? 1 : patch.alpha / w1b.shape[0]);
      const m1 = lohaFactor(read(patch.w1a), w1b, patch.t1 === null ? null : read(patch.t1));
      const m2 = lohaFactor(read(patch.w2a), read(patch.w2b), patch.t2 === null ? null : read(patch.t2));
      for (let i = 0; i < w.length; i++) w[i] += scale * m1[i] * m2[i];
      return;
    }
    case 'lokr': {
      let dim: number | null = null;
      let w1: LoraTensor;
      if (patch.w1 === null) {
        const a = read(patch.w1a!);
        const b = read(patch.w1b!);
        dim = b.shape[0];
        w1 = { data: product(a, b), shape: [a.shape[0], b.data.length / b.shape[0]] };
      } else {
        w1 = read(patch.w1);
      }
      let w2: LoraTensor;
      if (patch.w2 === null) {
        const a = read(patch.w2a!);
        const b = read(patch.w2b!);
        dim = b.shape[0];
        if (patch.t2 === null) {
          w2 = { data: product(a, b), shape: [a.shape[0], b.data.length / b.shape[0]] };
        } else {
          const t = read(patch.t2);
          w2 = { data: tuckerCore(t, b, a), shape: [a.shape[1], b.shape[1], t.shape[2], t.shape[3]] };
        }
      } else {
        w2 = read(patch.w2);
      }
      const scale = strength * (patch.alpha !== null && dim !== null ? patch.alpha / dim : 1);
      addKron(w, w1, w2, scale);
      return;
    }
    case 'glora': {
      const a1 = read(patch.a1);
      const a2 = read(patch.a2);
      const b1 = read(patch.b1);
      const b2 = read(patch.b2);
      const scale = strength * (patch.alpha === null ? 1 : patch.alpha / a1.shape[0]);
      const r = a1.shape[0];
      // (W @ a2) @ a1 uses W before this patch: take it first.
      const wa2 = new Float32Array(rows * r);
      addScaledProduct(wa2, w, a2.data, rows, cols, r, 1);
      addScaledProduct(w, wa2, a1.data, rows, r, cols, scale);
      addScaledProduct(w, b2.data, b1.data, b2.shape[0], b1.shape[0], b1.data.length / b1.shape[0], scale);
      return;
    }
    case 'diff': {
      const d = read(patch.tensor).data;
      for (let i = 0; i < w.length; i++) w[i] += strength * d[i];
      return;
    }
    case 'fooocus': {
      addFooocusPatch(w, read(patch.q).data, read(patch.min).data[0], read(patch.max).data[0], strength);
      return;
    }
  }
}

/**
 * w += strength·(q/255·(max − min) + min), each operation rounded to float32
 * as torch does it on float32 tensors (F modules/patch.py, 'fooocus' branch).
 */
export function addFooocusPatch(w: Float32Array, q: ArrayLike<number>, min: number, max: number, strength: number): void {
  const f = Math.fround;
  const range = f(f(max) - f(min));
  for (let i = 0; i < w.length; i++) w[i] = f(w[i] + f(strength * f(f(f(q[i] / 255) * range) + min)));
}

/** ΔW = scale · a (m×k) @ b (k×n). */
export interface LowRankFactors {
  a: Float32Array;
  b: Float32Array;
  m: number;
  k: number;
  n: number;
  scale: number;
}

/** A plain LoRA patch as two factors: up.flatten(1), and down.flatten(1) (CP mid contracted in first). */
export function loraFactors(patch: Extract<LoraPatch, { kind: 'lora' }>, strength: number, read: TensorReader): LowRankFactors {
  const up = read(patch.up);
  let down = read(patch.down);
  const scale = strength * (patch.alpha === null ? 1 : patch.alpha / down.shape[0]);
  if (patch.mid !== null) down = contractMid(down, read(patch.mid));
  const k = down.shape[0];
  return { a: up.data, b: down.data, m: up.shape[0], k, n: down.data.length / k, scale };
}

/**
 * Several updates of one weight as one: ΔW = Σ scaleᵢ·aᵢ@bᵢ = [scale₁a₁ | scale₂a₂ | …] @ [b₁; b₂; …],
 * so stacked LoRAs read and write the weight once instead of once each.
 */
export function stackFactors(list: readonly LowRankFactors[]): LowRankFactors {
  if (list.length === 1) return list[0];
  const { m, n } = list[0];
  const k = list.reduce((s, f) => s + f.k, 0);
  const a = new Float32Array(m * k);
  const b = new Float32Array(k * n);
  let col = 0;
  for (const f of list) {
    for (let i = 0; i < m; i++) for (let p = 0; p < f.k; p++) a[i * k + col + p] = f.scale * f.a[i * f.k + p];
    b.set(f.b.subarray(0, f.k * n), col * n);
    col += f.k;
  }
  return { a, b, m, k, n, scale: 1 };
}

/**
 * out[m×n] += scale · a[m×k] @ b[k×n] (row-major): two rows of `a` at a
 * time, four of their coefficients against four rows of `b` (each `b` value
 * loaded once for both rows), into two float64 accumulator rows.
 */
export function addScaledProduct(out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, scale: number): void {
  const acc0 = new Float64Array(n);
  const acc1 = new Float64Array(n);
  for (let i = 0; i < m; i += 2) {
    const pair = i + 1 < m;
    acc0.fill(0);
    acc1.fill(0);
    const r0 = i * k;
    const r1 = pair ? r0 + k : r0; // an odd last row pairs with itself; acc1 is then unused
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const a0 = a[r0 + p], a1 = a[r0 + p + 1], a2 = a[r0 + p + 2], a3 = a[r0 + p + 3];
      const c0 = a[r1 + p], c1 = a[r1 + p + 1], c2 = a[r1 + p + 2], c3 = a[r1 + p + 3];
      const o0 = p * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      for (let j = 0; j < n; j++) {
        const b0 = b[o0 + j], b1 = b[o1 + j], b2 = b[o2 + j], b3 = b[o3 + j];
        acc0[j] += a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
        acc1[j] += c0 * b0 + c1 * b1 + c2 * b2 + c3 * b3;
      }
    }
    for (; p < k; p++) {
      const a0 = a[r0 + p];
      const c0 = a[r1 + p];
      const o0 = p * n;
      for (let j = 0; j < n; j++) {
        const b0 = b[o0 + j];
        acc0[j] += a0 * b0;
        acc1[j] += c0 * b0;
      }
    }
    const oi = i * n;
    for (let j = 0; j < n; j++) out[oi + j] += scale * acc0[j];
    if (pair) for (let j = 0; j < n; j++) out[oi + n + j] += scale * acc1[j];
  }
}

/** a.flatten(1) @ b.flatten(1) as a new array. */
function product(a: LoraTensor, b: LoraTensor): Float32Array {
  const m = a.shape[0];
  const k = a.data.length / m;
  const n = b.data.length / b.shape[0];
  const out = new Float32Array(m * n);
  addScaledProduct(out, a.data, b.data, m, k, n, 1);
  return out;
}

/** LyCORIS CP: down'[a,i,y,x] = Σ_b mid[a,b,y,x]·down[b,i] for down [r,Cin,1,1], mid [r,r,kh,kw]. */
function contractMid(down: LoraTensor, mid: LoraTensor): LoraTensor {
  const [ra, rb, kh, kw] = mid.shape;
  const cin = down.data.length / down.shape[0];
  const hw = kh * kw;
  const out = new Float32Array(ra * cin * hw);
  for (let a = 0; a < ra; a++) {
    for (let b = 0; b < rb; b++) {
      for (let i = 0; i < cin; i++) {
        const d = down.data[b * cin + i];
        if (d === 0) continue;
        const src = (a * rb + b) * hw;
        const dst = (a * cin + i) * hw;
        for (let s = 0; s < hw; s++) out[dst + s] += mid.data[src + s] * d;
      }
    }
  }
  return { data: out, shape: [ra, cin, kh, kw] };
}

/** einsum('i j k l, j r, i p -> p r k l', t, wb, wa): a Tucker core expanded by its two factors. */
function tuckerCore(t: LoraTensor, wb: LoraTensor, wa: LoraTensor): Float32Array {
  const [I, J, kh, kw] = t.shape;
  const R = wb.shape[1];
  const P = wa.shape[1];
  const hw = kh * kw;
  // tmp[i,r,kl] = Σ_j t[i,j,kl]·wb[j,r]
  const tmp = new Float64Array(I * R * hw);
  for (let i = 0; i < I; i++) {
    for (let j = 0; j < J; j++) {
      for (let r = 0; r < R; r++) {
        const c = wb.data[j * R + r];
        const src = (i * J + j) * hw;
        const dst = (i * R + r) * hw;
        for (let s = 0; s < hw; s++) tmp[dst + s] += t.data[src + s] * c;
      }
    }
  }
  // out[p,r,kl] = Σ_i wa[i,p]·tmp[i,r,kl]
  const out = new Float32Array(P * R * hw);
  const row = R * hw;
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < I; i++) {
      const c = wa.data[i * P + p];
      for (let s = 0; s < row; s++) out[p * row + s] += c * tmp[i * row + s];
    }
  }
  return out;
}

/** W (given flattened, shape from the factors) for a LoHa factor: wa@wb, or its CP expansion. */
function lohaFactor(wa: LoraTensor, wb: LoraTensor, t: LoraTensor | null): Float32Array {
  return t === null ? product(wa, wb) : tuckerCore(t, wb, wa);
}

/** w += scale · kron(w1, w2); w1 is 2-D, w2 2-D or 4-D (w1 then acts as [A,B,1,1]). */
function addKron(w: Float32Array, w1: LoraTensor, w2: LoraTensor, scale: number): void {
  const A = w1.shape[0];
  const B = w1.data.length / A;
  const C = w2.shape[0];
  const D = w2.shape.length >= 2 ? w2.shape[1] : 1;
  const hw = w2.data.length / (C * D);
  const rowLen = B * D * hw;
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      const f = scale * w1.data[a * B + b];
      if (f === 0) continue;
      for (let c = 0; c < C; c++) {
        const dst = (a * C + c) * rowLen + b * D * hw;
        const src = c * D * hw;
        for (let s = 0; s < D * hw; s++) w[dst + s] += f * w2.data[src + s];
      }
    }
  }
}

function lohaFactorShape(wa: string, wb: string, t: string | null, shapeOf: ShapeReader): number | string {
  const a = shapeOf(wa);
  const b = shapeOf(wb);
  if (t === null) {
    const k = numel(a) / a[0];
    return k === b[0] ? a[0] * (numel(b) / b[0]) : `${wa} @ ${wb}: inner sizes ${k} and ${b[0]} differ`;
  }
  const ts = shapeOf(t);
  if (ts.length !== 4 || a.length !== 2 || b.length !== 2 || a[0] !== ts[0] || b[0] !== ts[1]) return `hada core ${t} [${ts}] does not fit its factors`;
  return a[1] * b[1] * ts[2] * ts[3];
}

function lokrFactorShape(
  whole: string | null, a: string | null, b: string | null, t: string | null, shapeOf: ShapeReader, what: string,
): number[] | string {
  if (whole !== null) return shapeOf(whole);
  if (a === null || b === null) return `${what} is neither given whole nor as _a and _b`;
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  if (t !== null) {
    const st = shapeOf(t);
    if (st.length !== 4 || sa.length !== 2 || sb.length !== 2 || sa[0] !== st[0] || sb[0] !== st[1]) return `${what} Tucker core [${st}] does not fit its factors`;
    return [sa[1], sb[1], st[2], st[3]];
  }
  const k = numel(sa) / sa[0];
  return k === sb[0] ? [sa[0], numel(sb) / sb[0]] : `${what}_a @ ${what}_b: inner sizes ${k} and ${sb[0]} differ`;
}
