import { describe, expect, it } from 'vitest';
import { halveAreaF32, resizeArea, resizeLinearF32 } from './cvResize.ts';

const u8 = (width: number, height: number, channels: number, values: number[]) => ({ data: Uint8Array.from(values), width, height, channels });
const f32img = (width: number, height: number, values: number[]) => ({ data: Float32Array.from(values), width, height, channels: 1 });

describe('resizeArea (cv2.INTER_AREA)', () => {
  it('halves with (a+b+c+d+2)>>2, rounding exact halves up like OpenCV’s 2×2 kernel', () => {
    // Sum 2 → 0.5 → 1 (not banker's 0); sum 7 → 1.75 → 2.
    const out = resizeArea(u8(4, 2, 1, [0, 0, 1, 2, 1, 1, 2, 2]), 2, 1);
    expect(Array.from(out.data)).toEqual([1, 2]);
  });

  it('averages larger integer blocks as round-half-even of sum·(1/area) in float32', () => {
    // 3×3 block of 0…8: sum 36, 36/9 = 4.
    const out = resizeArea(u8(3, 3, 1, [0, 1, 2, 3, 4, 5, 6, 7, 8]), 1, 1);
    expect(Array.from(out.data)).toEqual([4]);
  });

  it('weights partial cells for non-integer factors (3 → 2 pixels: 1 and ½ cells over 1.5)', () => {
    const out = resizeArea(u8(3, 1, 1, [0, 30, 60]), 2, 1);
    expect(Array.from(out.data)).toEqual([10, 50]);
  });

  it('keeps channels apart and copies when the size is unchanged', () => {
    const img = u8(2, 1, 3, [10, 20, 30, 40, 50, 60]);
    expect(Array.from(resizeArea(img, 1, 1).data)).toEqual([25, 35, 45]);
    const same = resizeArea(img, 2, 1);
    expect(Array.from(same.data)).toEqual(Array.from(img.data));
    expect(same.data).not.toBe(img.data);
  });

  it('refuses to enlarge (only the shrinking path is ported)', () => {
    expect(() => resizeArea(u8(1, 1, 1, [0]), 2, 2)).toThrow(RangeError);
  });
});

describe('resizeLinearF32 (cv2.INTER_LINEAR, float32)', () => {
  it('places taps at (d+0.5)·scale−0.5 and clamps x at the borders', () => {
    const out = resizeLinearF32(f32img(2, 1, [0, 1]), 4, 1);
    expect(Array.from(out.data)).toEqual([0, 0.25, 0.75, 1]);
  });

  it('interpolates rows the same way (y taps on clamped rows)', () => {
    const out = resizeLinearF32(f32img(1, 2, [0, 1]), 1, 4);
    expect(Array.from(out.data)).toEqual([0, 0.25, 0.75, 1]);
  });

  it('rounds the two products separately in float32 when y falls outside the image', () => {
    // Row −1 and row 0 are both row 0: v·(1−fy) + v·fy, each rounded, need not give v back exactly.
    const v = 0.1;
    const out = resizeLinearF32(f32img(1, 2, [v, v]), 1, 4);
    const fy = Math.fround(Math.fround(0.5 * 0.5 - 0.5) + 1);
    const expected = Math.fround(Math.fround(Math.fround(v) * Math.fround(1 - fy)) + Math.fround(Math.fround(v) * fy));
    expect(out.data[0]).toBe(expected);
  });
});

describe('halveAreaF32 (INTER_LINEAR at exactly ½, which OpenCV runs as INTER_AREA)', () => {
  it('averages each 2×2 block', () => {
    const out = halveAreaF32({ data: Float32Array.of(0, 1, 4, 5, 2, 3, 6, 7), width: 4, height: 2, channels: 1 });
    expect(Array.from(out.data)).toEqual([1.5, 5.5]);
  });
});
