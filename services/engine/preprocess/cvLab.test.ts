import { describe, expect, it } from 'vitest';
import { bgrToLabF32, bgrToLabU8, labU8ToBgr } from './cvLab.ts';

describe('8-bit Lab (OpenCV integer paths)', () => {
  it('maps white and black to L 255/0 with neutral a, b = 128', () => {
    expect(Array.from(bgrToLabU8(Uint8Array.of(255, 255, 255, 0, 0, 0)))).toEqual([255, 128, 128, 0, 128, 128]);
  });

  it('round-trips grays and moderate colours within 2 LSB, saturated primaries within 8 (8-bit a*, b* quantisation)', () => {
    const moderate = Uint8Array.of(128, 128, 128, 30, 90, 200, 200, 100, 50, 77, 77, 77);
    const back = labU8ToBgr(bgrToLabU8(moderate));
    for (let i = 0; i < moderate.length; i++) expect(Math.abs(back[i] - moderate[i])).toBeLessThanOrEqual(2);
    const primaries = Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255);
    const backP = labU8ToBgr(bgrToLabU8(primaries));
    for (let i = 0; i < primaries.length; i++) expect(Math.abs(backP[i] - primaries[i])).toBeLessThanOrEqual(8);
    expect(Array.from(labU8ToBgr(Uint8Array.of(255, 128, 128)))).toEqual([255, 255, 255]);
  });

  it('treats channel 0 as blue: pure blue has b* < 128, pure red a* > 128', () => {
    const [, , bBlue] = bgrToLabU8(Uint8Array.of(255, 0, 0));
    const [, aRed] = bgrToLabU8(Uint8Array.of(0, 0, 255));
    expect(bBlue).toBeLessThan(128);
    expect(aRed).toBeGreaterThan(128);
  });
});

describe('float Lab (OpenCV interpolated table)', () => {
  it('gives L 100, a 0, b 0 for white and 0, 0, 0 for black to table precision', () => {
    const lab = bgrToLabF32(Float32Array.of(1, 1, 1, 0, 0, 0));
    expect(lab[0]).toBeCloseTo(100, 2);
    expect(Math.abs(lab[1])).toBeLessThan(0.02);
    expect(Math.abs(lab[2])).toBeLessThan(0.02);
    expect(Array.from(lab.slice(3))).toEqual([0, 0, 0]);
  });

  it('stays within 0.2 of the textbook formula for a mid colour (sRGB 200, 100, 50 → L 53.63, a 36.31, b 45.38)', () => {
    const lab = bgrToLabF32(Float32Array.of(50 / 255, 100 / 255, 200 / 255));
    expect(Math.abs(lab[0] - 53.63)).toBeLessThan(0.2);
    expect(Math.abs(lab[1] - 36.31)).toBeLessThan(0.2);
    expect(Math.abs(lab[2] - 45.38)).toBeLessThan(0.2);
  });
});
