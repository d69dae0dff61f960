/** compute_initial_abcd / solve_abcd against cases.json → inpaint.cv.interested_area (exact boxes). */
import { afterAll, describe, expect, it } from 'vitest';
import { computeInitialAbcd, cropImage, interestedArea, solveAbcd } from './interestedArea.ts';
import { inpaintSection, openCase, u8Image } from './testSupport/inpaintGolden.ts';

const file = openCase(inpaintSection.cv_file);
afterAll(() => file.close());

describe('interested area', () => {
  for (const item of inpaintSection.cv.interested_area as { k: number; initial_abcd: number[]; abcd: number[] }[]) {
    it(`k = ${item.k}: initial ${item.initial_abcd.join(',')} → ${item.abcd.join(',')}`, () => {
      const mask = u8Image(file, 'mask_u8');
      const initial = computeInitialAbcd(mask);
      expect(initial).toEqual(item.initial_abcd);
      expect(solveAbcd(mask.height, mask.width, initial, item.k)).toEqual(item.abcd);
      expect(interestedArea(mask, item.k)).toEqual(item.abcd);
    });
  }

  it('grows columns on a tie and rows once the columns span the width', () => {
    // 10×4 image, 2×2 box, k = 0.5 (rows ≥ 5, columns ≥ 2): tie → columns [0, 4) (clipped);
    // rows narrower → rows [3, 7); tie again → columns (saturated, clipped) AND rows, since the
    // columns span W → rows [2, 8).
    expect(solveAbcd(10, 4, [4, 6, 1, 3], 0.5)).toEqual([2, 8, 0, 4]);
    expect(solveAbcd(10, 4, [4, 6, 1, 3], 0.9)).toEqual([0, 10, 0, 4]);
  });

  it('an empty mask has no area; k outside [0, 1] is refused', () => {
    expect(() => computeInitialAbcd({ data: new Uint8Array(4), width: 2, height: 2, channels: 1 })).toThrow(/empty/);
    expect(() => solveAbcd(2, 2, [0, 1, 0, 1], 1.5)).toThrow(/respective field/);
  });

  it('cropImage slices rows [a, b) and columns [c, d)', () => {
    const img = { data: Uint8Array.from({ length: 12 }, (_, i) => i), width: 4, height: 3, channels: 1 };
    expect(Array.from(cropImage(img, [1, 3, 1, 3]).data)).toEqual([5, 6, 9, 10]);
  });
});
