import { describe, expect, it } from 'vitest';
import { canny, sobel3 } from './cvCanny.ts';

/** 8×8 image, columns 0–3 at 0 and 4–7 at `v`. */
function step(v: number) {
  const data = new Uint8Array(64);
  for (let y = 0; y < 8; y++) for (let x = 4; x < 8; x++) data[y * 8 + x] = v;
  return { data, width: 8, height: 8, channels: 1 };
}

const column = (img: { data: Uint8Array; width: number; height: number }, x: number) => Array.from({ length: img.height }, (_, y) => img.data[y * img.width + x]);

describe('sobel3', () => {
  it('gives ±4·step across a vertical edge and 0 along it (replicated borders)', () => {
    const { dx, dy } = sobel3(step(200));
    expect(dx[2 * 8 + 3]).toBe(800);
    expect(dx[2 * 8 + 4]).toBe(800);
    expect(dx[2 * 8 + 1]).toBe(0);
    expect(Array.from(dy).every((v) => v === 0)).toBe(true);
  });
});

describe('canny', () => {
  it('keeps one column of a step edge: the left of two equal maxima (m > left, m ≥ right)', () => {
    const out = canny(step(200), 64, 128);
    expect(column(out, 3)).toEqual(Array(8).fill(255));
    for (const x of [0, 1, 2, 4, 5, 6, 7]) expect(column(out, x)).toEqual(Array(8).fill(0));
  });

  it('drops candidates that no strong pixel reaches (hysteresis)', () => {
    // Magnitude 800 is above low but not above high: candidates only, so no edge.
    expect(Array.from(canny(step(200), 100, 900).data).every((v) => v === 0)).toBe(true);
    // Nothing above low at all.
    expect(Array.from(canny(step(200), 900, 1000).data).every((v) => v === 0)).toBe(true);
  });

  it('swaps thresholds given in the wrong order, as OpenCV does', () => {
    expect(Array.from(canny(step(200), 128, 64).data)).toEqual(Array.from(canny(step(200), 64, 128).data));
  });

  it('follows a weak edge from a strong seed through 8-connected candidates', () => {
    // Step of 200 in the top half (magnitude 800 at rows 0–2), 50 in the bottom half (≤ 200).
    const data = new Uint8Array(64);
    for (let y = 0; y < 8; y++) for (let x = 4; x < 8; x++) data[y * 8 + x] = y < 4 ? 200 : 50;
    const img = { data, width: 8, height: 8, channels: 1 };
    const withSeed = canny(img, 100, 700);
    // Rows 5–7 (magnitude 200, candidates) join the strong rows 0–2 through the bend at rows 3–4.
    expect(column(withSeed, 3).slice(5)).toEqual([255, 255, 255]);
    expect(column(withSeed, 3).slice(0, 3)).toEqual([255, 255, 255]);
    // Without the strong top half the same weak pixels are not edges.
    const weakOnly = { ...img, data: data.map((v) => (v === 200 ? 50 : v)) };
    expect(Array.from(canny(weakOnly, 100, 700).data).every((v) => v === 0)).toBe(true);
  });
});
