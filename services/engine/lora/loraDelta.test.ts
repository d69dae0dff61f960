import { describe, expect, it } from 'vitest';
import { addPatchDelta, addScaledProduct, deltaShapeError, loraFactors, stackFactors, type LoraTensor } from './loraDelta.ts';
import type { LoraPatch } from './loraFile.ts';

/** Reproducible values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** A LoRA file's tensors by name, with random contents. */
function tensors(shapes: Record<string, number[]>): { read: (n: string) => LoraTensor; shape: (n: string) => number[]; get: (n: string) => Float32Array } {
  const data = new Map<string, LoraTensor>();
  let seed = 11;
  for (const [name, shape] of Object.entries(shapes)) data.set(name, { data: values(numel(shape), seed++), shape });
  return { read: (n) => data.get(n)!, shape: (n) => data.get(n)!.shape, get: (n) => data.get(n)!.data };
}

/** Applies `patch` with the engine and returns the weight before and after. */
async function apply(shape: number[], patch: LoraPatch, strength: number, t: ReturnType<typeof tensors>): Promise<{ before: Float32Array; after: Float32Array }> {
  expect(deltaShapeError(patch, shape, t.shape)).toBeNull();
  const before = values(numel(shape), 99);
  const after = Float32Array.from(before);
  await addPatchDelta(after, shape, patch, strength, t.read);
  return { before, after };
}

/** The golden merge tolerance (rtol 1e-5, atol 1e-6) against a float64 reference. */
function expectDelta(before: Float32Array, after: Float32Array, delta: (i: number) => number): void {
  let worst = -Infinity;
  for (let i = 0; i < before.length; i++) {
    const want = before[i] + delta(i);
    worst = Math.max(worst, Math.abs(after[i] - want) - 1e-5 * Math.abs(want));
  }
  expect(worst).toBeLessThan(1e-6);
}

describe('addScaledProduct', () => {
  it.each([[1, 1, 1], [3, 5, 7], [17, 4, 33], [8, 13, 64]])('equals a float64 matmul for m=%i k=%i n=%i', (m, k, n) => {
    const a = values(m * k, 1);
    const b = values(k * n, 2);
    const out = values(m * n, 3);
    const before = Float32Array.from(out);
    addScaledProduct(out, a, b, m, k, n, 0.37);
    expectDelta(before, out, (idx) => {
      const i = Math.floor(idx / n);
      const j = idx % n;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      return 0.37 * s;
    });
  });
});

describe('addPatchDelta (Fooocus calculate_weight)', () => {
  it('lora: W += s·(alpha/rank)·up@down, rank = down rows', async () => {
    const t = tensors({ up: [6, 3], down: [3, 5] });
    const { before, after } = await apply([6, 5], { kind: 'lora', up: 'up', down: 'down', mid: null, alpha: 2 }, 0.7, t);
    const up = t.get('up');
    const down = t.get('down');
    expectDelta(before, after, (idx) => {
      const [o, i] = [Math.floor(idx / 5), idx % 5];
      let s = 0;
      for (let r = 0; r < 3; r++) s += up[o * 3 + r] * down[r * 5 + i];
      return 0.7 * (2 / 3) * s;
    });
  });

  it('lora without alpha: the factor is the strength alone', async () => {
    const t = tensors({ up: [4, 2], down: [2, 4] });
    const { before, after } = await apply([4, 4], { kind: 'lora', up: 'up', down: 'down', mid: null, alpha: null }, -1, t);
    const up = t.get('up');
    const down = t.get('down');
    expectDelta(before, after, (idx) => -(up[Math.floor(idx / 4) * 2] * down[idx % 4] + up[Math.floor(idx / 4) * 2 + 1] * down[4 + (idx % 4)]));
  });

  it('LoCon conv: down [r,Cin,kh,kw], up [Cout,r,1,1]', async () => {
    const t = tensors({ up: [4, 2, 1, 1], down: [2, 3, 3, 3] });
    const { before, after } = await apply([4, 3, 3, 3], { kind: 'lora', up: 'up', down: 'down', mid: null, alpha: 1 }, 1, t);
    const up = t.get('up');
    const down = t.get('down');
    expectDelta(before, after, (idx) => {
      const o = Math.floor(idx / 27);
      const rest = idx % 27;
      return 0.5 * (up[o * 2] * down[rest] + up[o * 2 + 1] * down[27 + rest]);
    });
  });

  it('CP/Tucker mid: W[o,i,y,x] += s·(alpha/r)·Σ_ab up[o,a]·mid[a,b,y,x]·down[b,i]', async () => {
    const r = 3;
    const t = tensors({ up: [5, r, 1, 1], mid: [r, r, 3, 3], down: [r, 4, 1, 1] });
    const { before, after } = await apply([5, 4, 3, 3], { kind: 'lora', up: 'up', down: 'down', mid: 'mid', alpha: 4 }, 0.5, t);
    const [up, mid, down] = [t.get('up'), t.get('mid'), t.get('down')];
    expectDelta(before, after, (idx) => {
      const o = Math.floor(idx / 36);
      const i = Math.floor(idx / 9) % 4;
      const yx = idx % 9;
      let s = 0;
      for (let a = 0; a < r; a++) for (let b = 0; b < r; b++) s += up[o * r + a] * mid[(a * r + b) * 9 + yx] * down[b * 4 + i];
      return 0.5 * (4 / r) * s;
    });
  });

  it('LoHa: (alpha/w1b rows)·(w1a@w1b)∘(w2a@w2b)', async () => {
    const t = tensors({ w1a: [4, 2], w1b: [2, 6], w2a: [4, 3], w2b: [3, 6] });
    const { before, after } = await apply([4, 6], { kind: 'loha', w1a: 'w1a', w1b: 'w1b', w2a: 'w2a', w2b: 'w2b', t1: null, t2: null, alpha: 1 }, 0.8, t);
    const mm = (a: Float32Array, b: Float32Array, k: number, o: number, i: number) => {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[o * k + p] * b[p * 6 + i];
      return s;
    };
    expectDelta(before, after, (idx) => {
      const [o, i] = [Math.floor(idx / 6), idx % 6];
      return 0.8 * (1 / 2) * mm(t.get('w1a'), t.get('w1b'), 2, o, i) * mm(t.get('w2a'), t.get('w2b'), 3, o, i);
    });
  });

  it("LoHa with CP cores: einsum('ijkl,jr,ip->prkl', t, wb, wa) per factor", async () => {
    const r = 2;
    const t = tensors({ w1a: [r, 3], w1b: [r, 4], t1: [r, r, 3, 3], w2a: [r, 3], w2b: [r, 4], t2: [r, r, 3, 3] });
    const { before, after } = await apply([3, 4, 3, 3], { kind: 'loha', w1a: 'w1a', w1b: 'w1b', w2a: 'w2a', w2b: 'w2b', t1: 't1', t2: 't2', alpha: null }, 1, t);
    const core = (tc: Float32Array, wa: Float32Array, wb: Float32Array, p: number, rr: number, kl: number) => {
      let s = 0;
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) s += tc[(i * r + j) * 9 + kl] * wb[j * 4 + rr] * wa[i * 3 + p];
      return s;
    };
    expectDelta(before, after, (idx) => {
      const p = Math.floor(idx / 36);
      const rr = Math.floor(idx / 9) % 4;
      const kl = idx % 9;
      return core(t.get('t1'), t.get('w1a'), t.get('w1b'), p, rr, kl) * core(t.get('t2'), t.get('w2a'), t.get('w2b'), p, rr, kl);
    });
  });

  it('LoKr: kron(w1, w2_a@w2_b) scaled by alpha over w2_b rows', async () => {
    const t = tensors({ w1: [2, 3], w2a: [3, 2], w2b: [2, 4] });
    const patch: LoraPatch = { kind: 'lokr', w1: 'w1', w2: null, w1a: null, w1b: null, w2a: 'w2a', w2b: 'w2b', t2: null, alpha: 3 };
    const { before, after } = await apply([6, 12], patch, 0.5, t);
    const [w1, w2a, w2b] = [t.get('w1'), t.get('w2a'), t.get('w2b')];
    const w2 = (c: number, d: number) => w2a[c * 2] * w2b[d] + w2a[c * 2 + 1] * w2b[4 + d];
    expectDelta(before, after, (idx) => {
      const row = Math.floor(idx / 12);
      const col = idx % 12;
      return 0.5 * (3 / 2) * w1[Math.floor(row / 3) * 3 + Math.floor(col / 4)] * w2(row % 3, col % 4);
    });
  });

  it('LoKr conv: w1 from w1_a@w1_b, w2 from a Tucker core (4-D), kron over [A,B,1,1] ⊗ [C,D,kh,kw]', async () => {
    const t = tensors({ w1a: [2, 1], w1b: [1, 2], w2a: [2, 3], w2b: [2, 2], t2: [2, 2, 3, 3] });
    const patch: LoraPatch = { kind: 'lokr', w1: null, w2: null, w1a: 'w1a', w1b: 'w1b', w2a: 'w2a', w2b: 'w2b', t2: 't2', alpha: 1 };
    const { before, after } = await apply([6, 4, 3, 3], patch, 1, t);
    const [w1a, w1b, w2a, w2b, t2] = ['w1a', 'w1b', 'w2a', 'w2b', 't2'].map((n) => t.get(n));
    const w1 = (a: number, b: number) => w1a[a] * w1b[b];
    const w2 = (p: number, rr: number, kl: number) => {
      let s = 0;
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) s += t2[(i * 2 + j) * 9 + kl] * w2b[j * 2 + rr] * w2a[i * 3 + p];
      return s;
    };
    expectDelta(before, after, (idx) => {
      const row = Math.floor(idx / 36);
      const col = Math.floor(idx / 9) % 4;
      const kl = idx % 9;
      // dim = w2_b rows (the last factor given as a product), alpha 1 → 1/2.
      return 0.5 * w1(Math.floor(row / 3), Math.floor(col / 2)) * w2(row % 3, col % 2, kl);
    });
  });

  it('GLoRA: (alpha/a1 rows)·(b2@b1 + (W@a2)@a1), W before the patch', async () => {
    const t = tensors({ a1: [2, 5], a2: [5, 2], b1: [2, 5], b2: [4, 2] });
    const { before, after } = await apply([4, 5], { kind: 'glora', a1: 'a1', a2: 'a2', b1: 'b1', b2: 'b2', alpha: 1 }, 1, t);
    const [a1, a2, b1, b2] = ['a1', 'a2', 'b1', 'b2'].map((n) => t.get(n));
    expectDelta(before, after, (idx) => {
      const [o, i] = [Math.floor(idx / 5), idx % 5];
      let s = 0;
      for (let r = 0; r < 2; r++) {
        s += b2[o * 2 + r] * b1[r * 5 + i];
        let wa = 0;
        for (let j = 0; j < 5; j++) wa += before[o * 5 + j] * a2[j * 2 + r];
        s += wa * a1[r * 5 + i];
      }
      return 0.5 * s;
    });
  });

  it('diff: W += s·diff', async () => {
    const t = tensors({ d: [3, 4] });
    const { before, after } = await apply([3, 4], { kind: 'diff', tensor: 'd' }, 0.25, t);
    expectDelta(before, after, (i) => 0.25 * t.get('d')[i]);
  });
});

describe('deltaShapeError', () => {
  it('accepts any reshape with the same element count (as torch reshape)', () => {
    const t = tensors({ up: [8, 2], down: [2, 8] });
    expect(deltaShapeError({ kind: 'lora', up: 'up', down: 'down', mid: null, alpha: null }, [4, 4, 2, 2], t.shape)).toBeNull();
  });

  it('names a product with another element count than the weight', () => {
    const t = tensors({ up: [8, 2], down: [2, 9] });
    expect(deltaShapeError({ kind: 'lora', up: 'up', down: 'down', mid: null, alpha: null }, [8, 8], t.shape)).toMatch(/72 values.*\[8,8\] has 64/);
  });

  it('names factors whose inner sizes differ', () => {
    const t = tensors({ up: [8, 3], down: [2, 8] });
    expect(deltaShapeError({ kind: 'lora', up: 'up', down: 'down', mid: null, alpha: null }, [8, 8], t.shape)).toMatch(/inner sizes 3 and 2/);
  });

  it('requires a diff of exactly the weight shape', () => {
    const t = tensors({ d: [16] });
    expect(deltaShapeError({ kind: 'diff', tensor: 'd' }, [4, 4], t.shape)).toMatch(/differs/);
  });
});

describe('stackFactors', () => {
  it('one product of stacked LoRAs equals applying them one after the other', async () => {
    const t = tensors({ up1: [6, 3], down1: [3, 10], up2: [6, 5], down2: [5, 10] });
    const p1: LoraPatch = { kind: 'lora', up: 'up1', down: 'down1', mid: null, alpha: 1.5 };
    const p2: LoraPatch = { kind: 'lora', up: 'up2', down: 'down2', mid: null, alpha: null };
    const sequential = values(60, 5);
    const stacked = Float32Array.from(sequential);
    await addPatchDelta(sequential, [6, 10], p1, 0.7, t.read);
    await addPatchDelta(sequential, [6, 10], p2, -0.4, t.read);
    const f = stackFactors([loraFactors(p1, 0.7, t.read), loraFactors(p2, -0.4, t.read)]);
    expect([f.m, f.k, f.n, f.scale]).toEqual([6, 8, 10, 1]);
    addScaledProduct(stacked, f.a, f.b, f.m, f.k, f.n, f.scale);
    expectDelta(sequential, stacked, () => 0);
  });
});
