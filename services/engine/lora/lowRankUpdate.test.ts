import { describe, expect, it } from 'vitest';
import { addScaledProduct } from './loraDelta.ts';
import { createLowRankUpdater, SMALL_PRODUCT } from './lowRankUpdate.ts';

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5);
}

describe('createLowRankUpdater (onnxruntime GEMM)', () => {
  it('adds scale·a@b into a row block of a larger weight like the JS kernel, leaving the other rows alone', async () => {
    const [m, k, n, offsetRows] = [96, 32, 640, 7];
    expect(m * k * n).toBeGreaterThanOrEqual(SMALL_PRODUCT); // takes the ORT path
    const whole = values((m + 2 * offsetRows) * n, 1);
    const a = values(m * k, 2);
    const b = values(k * n, 3);
    const viaJs = Float32Array.from(whole);
    addScaledProduct(viaJs.subarray(offsetRows * n, (offsetRows + m) * n), a, b, m, k, n, -0.35);
    const updater = await createLowRankUpdater();
    try {
      await updater.add(whole.subarray(offsetRows * n, (offsetRows + m) * n), a, b, m, k, n, -0.35);
    } finally {
      await updater.release();
    }
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i] - viaJs[i]) - 1e-5 * Math.abs(viaJs[i]));
    expect(worst).toBeLessThan(1e-6);
    const untouched = values((m + 2 * offsetRows) * n, 1);
    expect(whole.subarray(0, offsetRows * n)).toEqual(untouched.subarray(0, offsetRows * n));
    expect(whole.subarray((offsetRows + m) * n)).toEqual(untouched.subarray((offsetRows + m) * n));
  });
});
