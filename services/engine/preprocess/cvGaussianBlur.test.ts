import { describe, expect, it } from 'vitest';
import { borderReflect101, cvRound } from './cvImage.ts';
import { gaussianBlurU8, gaussianKernelFixed8, gaussianKernelSizeU8 } from './cvGaussianBlur.ts';

describe('GaussianBlur σ 0.8 (OpenCV 8-bit fixed point)', () => {
  it('uses 7 taps of [0, 6, 58, 128, 58, 6, 0]/256', () => {
    expect(gaussianKernelSizeU8(0.8)).toBe(7);
    expect(Array.from(gaussianKernelFixed8(7, 0.8))).toEqual([0, 6, 58, 128, 58, 6, 0]);
  });

  it('spreads an impulse as the outer product of the taps, (Σ + 2^15) >> 16', () => {
    const data = new Uint8Array(81);
    data[40] = 255;
    const out = gaussianBlurU8({ data, width: 9, height: 9, channels: 1 }, 0.8);
    expect(out.data[40]).toBe((128 * 128 * 255 + 32768) >> 16);
    expect(out.data[41]).toBe((128 * 58 * 255 + 32768) >> 16);
    expect(out.data[42]).toBe((128 * 6 * 255 + 32768) >> 16);
  });

  it('leaves a flat image flat and mirrors borders without repeating the edge pixel', () => {
    const flat = gaussianBlurU8({ data: new Uint8Array(12).fill(77), width: 4, height: 1, channels: 3 }, 0.8);
    expect(Array.from(flat.data).every((v) => v === 77)).toBe(true);
    expect([-2, -1, 0, 3, 4, 5].map((i) => borderReflect101(i, 4))).toEqual([2, 1, 0, 3, 2, 1]);
  });

  it('rounds ties to even like cvRound', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4].map(cvRound)).toEqual([0, 2, 2, -0, -2, 2]);
  });
});
