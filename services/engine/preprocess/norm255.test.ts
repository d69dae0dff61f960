import { describe, expect, it } from 'vitest';
import { clipToU8, norm255, percentileLinear } from './norm255.ts';

describe('percentileLinear (numpy linear method)', () => {
  it('interpolates between order statistics at (n−1)·q/100', () => {
    expect(percentileLinear([4, 1, 3, 2], 25)).toBe(1.75);
    expect(percentileLinear([0, 10], 75)).toBe(7.5);
    expect(percentileLinear([5, 1, 9], 0)).toBe(1);
    expect(percentileLinear([5, 1, 9], 100)).toBe(9);
  });
});

describe('norm255 and clipToU8', () => {
  it('maps the low percentile to 0 and the high one to 255, then truncates', () => {
    const x = Float32Array.from({ length: 101 }, (_, i) => i);
    const out = clipToU8(norm255(x, 1, 99));
    expect(out[1]).toBe(0);
    expect(out[99]).toBe(255);
    expect(out[0]).toBe(0);
    expect(out[100]).toBe(255);
    // (50 − 1)/98·255 = 127.5 → 127 (truncation, not rounding).
    expect(out[50]).toBe(127);
  });

  it('turns NaN (a flat map) into 0', () => {
    expect(Array.from(clipToU8(norm255(new Float32Array(4).fill(3), 4, 96)))).toEqual([0, 0, 0, 0]);
  });
});
