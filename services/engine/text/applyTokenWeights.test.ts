import { describe, expect, it } from 'vitest';
import { applyTokenWeights, hasTokenWeights } from './applyTokenWeights.ts';

function expectClose(got: Float32Array, want: number[]): void {
  expect(got).toHaveLength(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
}

describe('applyTokenWeights', () => {
  // 3 tokens × 2 channels; token 1 has weight 2.
  const hidden = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const empty = Float32Array.from([1, 1, 1, 1, 1, 1]);

  it('scales weighted tokens away from the empty sequence, then restores the chunk mean', () => {
    // Token 1: (3−1)·2+1 = 5, (4−1)·2+1 = 7 → [1,2,5,7,5,6], mean 26/6 (was 21/6), so ×21/26.
    const out = applyTokenWeights(hidden, empty, [1, 2, 1]);
    expectClose(out, [1, 2, 5, 7, 5, 6].map((v) => (v * 21) / 26));
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(out)).toBeCloseTo(mean(hidden), 6);
  });

  it('moves a weight-0 token onto the empty sequence before rescaling', () => {
    // Token 0 becomes [1,1] → [1,1,3,4,5,6], mean 20/6, so ×21/20.
    const out = applyTokenWeights(hidden, empty, [0, 1, 1]);
    expectClose(out, [1, 1, 3, 4, 5, 6].map((v) => (v * 21) / 20));
  });

  it('uses the empty sequence position by position', () => {
    const emptyVarying = Float32Array.from([0, 0, 2, -2, 0, 0]);
    // Token 1: (3−2)·0.5+2 = 2.5, (4+2)·0.5−2 = 1 → [1,2,2.5,1,5,6], mean 17.5/6, so ×21/17.5.
    const out = applyTokenWeights(hidden, emptyVarying, [1, 0.5, 1]);
    expectClose(out, [1, 2, 2.5, 1, 5, 6].map((v) => (v * 21) / 17.5));
  });

  it('returns an unchanged copy when every weight is 1, and never modifies its inputs', () => {
    const out = applyTokenWeights(hidden, empty, [1, 1, 1]);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out).not.toBe(hidden);
    applyTokenWeights(hidden, empty, [3, 1, 1]);
    expect(Array.from(hidden)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(empty)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('rounds like torch float32: weight and each operation in float32', () => {
    const z = Float32Array.from([0.1, 0.7]);
    const e = Float32Array.from([0.3, 0.3]);
    const w = 1.1 * 1.1; // 1.2100000000000002 in float64
    const out = applyTokenWeights(z, e, [w, 1]);
    const t0 = Math.fround(Math.fround(Math.fround(z[0] - e[0]) * Math.fround(w)) + e[0]);
    const before = Math.fround((z[0] + z[1]) / 2);
    const after = Math.fround((t0 + z[1]) / 2);
    const scale = Math.fround(before / after);
    expect(out[0]).toBe(Math.fround(t0 * scale));
    expect(out[1]).toBe(Math.fround(z[1] * scale));
  });

  it('rejects hidden states that do not match the weights', () => {
    expect(() => applyTokenWeights(hidden, empty, [1, 2, 1, 1])).toThrow(RangeError);
    expect(() => applyTokenWeights(hidden, empty.subarray(0, 4), [1, 2, 1])).toThrow(RangeError);
  });
});

describe('hasTokenWeights', () => {
  it('is true only if some token of some chunk has a weight other than 1', () => {
    expect(hasTokenWeights([{ weights: [1, 1] }, { weights: [1, 1] }])).toBe(false);
    expect(hasTokenWeights([{ weights: [1, 1] }, { weights: [1, 1.1] }])).toBe(true);
    expect(hasTokenWeights([])).toBe(false);
  });
});
