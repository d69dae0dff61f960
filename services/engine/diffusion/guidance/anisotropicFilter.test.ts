import { describe, expect, it } from 'vitest';
import { compareArrays } from '../../golden/compare.ts';
import { GoldenTensors, goldenCases } from '../samplers/testSupport/goldenData.ts';
import { adaptiveAnisotropicFilter, type Nchw } from './anisotropicFilter.ts';

/** Deterministic pseudo-random values in [-1, 1) (xorshift32), so failures reproduce. */
function pseudoRandom(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * The filter written straight from its definition (anisotropic.py), one
 * output value at a time with explicit reflect indexing: an independent
 * check of the padded, interleaved production loop.
 */
function bruteForceFilter(x: Float64Array, g: Float64Array, [B, C, H, W]: Nchw): Float64Array {
  const out = new Float64Array(x.length);
  const k1 = Array.from({ length: 13 }, (_, i) => Math.exp(-((i - 6) ** 2) / 18));
  const k1sum = k1.reduce((a, b) => a + b, 0);
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  for (let b = 0; b < B; b++) {
    const off = b * C * H * W;
    const sample = g.subarray(off, off + C * H * W);
    const mean = sample.reduce((a, v) => a + v, 0) / sample.length;
    const std = Math.sqrt(sample.reduce((a, v) => a + (v - mean) ** 2, 0) / (sample.length - 1)) + 1e-5;
    const gn = (c: number, y: number, xx: number) => (g[off + (c * H + refl(y, H)) * W + refl(xx, W)] - mean) / std;
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        const num = new Float64Array(C);
        let den = 0;
        for (let dy = -6; dy <= 6; dy++) {
          for (let dx = -6; dx <= 6; dx++) {
            let dist = 0;
            for (let c = 0; c < C; c++) dist += Math.abs(gn(c, y + dy, xx + dx) - gn(c, y, xx));
            const w = (k1[dy + 6] / k1sum) * (k1[dx + 6] / k1sum) * Math.exp((-0.5 / 9) * dist * dist);
            den += w;
            for (let c = 0; c < C; c++) num[c] += w * x[off + (c * H + refl(y + dy, H)) * W + refl(xx + dx, W)];
          }
        }
        for (let c = 0; c < C; c++) out[off + (c * H + y) * W + xx] = num[c] / den;
      }
    }
  }
  return out;
}

describe('adaptive anisotropic filter (Fooocus sharpness)', () => {
  it('reproduces Fooocus on the golden step: AF(x − x0_pos, guide x0_pos)', () => {
    const tensors = new GoldenTensors(goldenCases().cases.fooocus_cfg.file);
    try {
      const x = tensors.latent('x');
      const posX0 = tensors.latent('pos_x0');
      const posEps = x.map((v, i) => v - posX0[i]);
      const got = adaptiveAnisotropicFilter(posEps, posX0, [1, 4, 16, 16]);
      for (const item of goldenCases().cases.fooocus_cfg.items) {
        const cmp = compareArrays(got, tensors.latent(`case${item.case}.filtered_pos_eps`), { atol: 1e-4, rtol: 1e-4 });
        expect(cmp.ok, `case${item.case} max |Δ| ${cmp.maxAbs}`).toBe(true);
        expect(cmp.maxAbs).toBeLessThan(1e-5);
      }
    } finally {
      tensors.close();
    }
  });

  for (const channels of [3, 4]) {
    it(`matches a brute-force evaluation of the definition (${channels} channels, batch of 2, non-square, reflect borders)`, () => {
      const shape: Nchw = [2, channels, 9, 14];
      const n = shape.reduce((a, b) => a * b, 1);
      const x = pseudoRandom(n, 7);
      const g = pseudoRandom(n, 11).map((v) => v * 3 + 0.5);
      const cmp = compareArrays(adaptiveAnisotropicFilter(x, g, shape), bruteForceFilter(x, g, shape), { atol: 1e-12 });
      expect(cmp.ok, `max |Δ| ${cmp.maxAbs}`).toBe(true);
    });
  }

  it('leaves a constant input unchanged (the weights are normalised)', () => {
    const shape: Nchw = [1, 4, 8, 8];
    const x = new Float64Array(256).fill(-1.25);
    const out = adaptiveAnisotropicFilter(x, pseudoRandom(256, 3), shape);
    for (const v of out) expect(v).toBeCloseTo(-1.25, 12);
  });

  it('keeps an edge of the guide that a plain Gaussian blur would smear', () => {
    // Left half 0, right half 1 in input and guide. Normalised, the step is ~2 units
    // per channel, so a tap across the edge weighs exp(−0.5/9·(4·2)²) ≈ 0.03 against
    // 1 on its own side; the σ = 3 Gaussian alone would put ~0.4 next to the edge.
    const shape: Nchw = [1, 4, 8, 12];
    const x = new Float64Array(4 * 8 * 12);
    for (let c = 0; c < 4; c++) for (let y = 0; y < 8; y++) for (let xx = 6; xx < 12; xx++) x[(c * 8 + y) * 12 + xx] = 1;
    const out = adaptiveAnisotropicFilter(x, x, shape);
    expect(out[5]).toBeLessThan(0.05);
    expect(out[6]).toBeGreaterThan(0.95);
    const flatGuide = adaptiveAnisotropicFilter(x, new Float64Array(x.length).fill(0.5), shape);
    expect(flatGuide[5]).toBeGreaterThan(0.3);
  });

  it('rejects latents too small for reflect padding by 6 and mismatched sizes', () => {
    expect(() => adaptiveAnisotropicFilter(new Float64Array(36), new Float64Array(36), [1, 1, 6, 6])).toThrow(RangeError);
    expect(() => adaptiveAnisotropicFilter(new Float64Array(64), new Float64Array(63), [1, 1, 8, 8])).toThrow(RangeError);
  });
});
