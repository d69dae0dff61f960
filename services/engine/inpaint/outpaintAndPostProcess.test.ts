/** Outpaint padding (Fooocus 30 % and FooocusAPI distances) and post_process against the golden arrays (exact). */
import { afterAll, describe, expect, it } from 'vitest';
import { resampleLanczos } from '../image/resampleLanczos.ts';
import { cropImage } from './interestedArea.ts';
import { morphologicalOpen, up255 } from './maskMorphology.ts';
import { applyOutpaint, type OutpaintSide } from './outpaint.ts';
import { colorCorrection, inpaintPostProcess } from './postProcess.ts';
import { inpaintSection, openCase, u8Image } from './testSupport/inpaintGolden.ts';

const file = openCase(inpaintSection.cv_file);
afterAll(() => file.close());
const cv = inpaintSection.cv;
const areaFor = (k: number) => (cv.interested_area as { k: number; abcd: [number, number, number, number] }[]).find((i) => i.k === k)!.abcd;

describe('applyOutpaint', () => {
  for (const item of cv.outpaint as { case: number; implementation: string; selections: OutpaintSide[]; distance_ltrb: number[] | null; out_hw: number[] }[]) {
    it(`case ${item.case} (${item.implementation}, ${item.selections.join('+')}) → ${item.out_hw.join('×')}`, () => {
      const [left, top, right, bottom] = item.distance_ltrb ?? [0, 0, 0, 0];
      const out = applyOutpaint(u8Image(file, 'image_u8'), u8Image(file, 'mask_u8'), item.selections, { left, top, right, bottom });
      expect([out.image.height, out.image.width]).toEqual(item.out_hw);
      expect(Buffer.from(out.image.data).equals(Buffer.from(u8Image(file, `outpaint${item.case}.image`).data))).toBe(true);
      expect(Buffer.from(out.mask.data).equals(Buffer.from(u8Image(file, `outpaint${item.case}.mask`).data))).toBe(true);
    });
  }

  it('no side selected leaves both unchanged', () => {
    const out = applyOutpaint(u8Image(file, 'image_u8'), u8Image(file, 'mask_u8'), []);
    expect([out.image.height, out.image.width]).toEqual(inpaintSection.image_hw);
  });
});

describe('crop mask and post_process', () => {
  it('the k = 0.618 mask crop, Lanczos-resampled and thresholded, equals crop_mask_resampled_up255', () => {
    const [w, h] = cv.crop_mask_resample_to_wh;
    const got = up255(resampleLanczos(cropImage(u8Image(file, 'mask_u8'), areaFor(0.618)), w, h), 127);
    expect(Buffer.from(got.data).equals(Buffer.from(u8Image(file, 'crop_mask_resampled_up255').data))).toBe(true);
  });

  it('inpaintPostProcess equals post_process.result_u8', () => {
    const got = inpaintPostProcess(u8Image(file, 'post_process.generated_u8'), u8Image(file, 'image_u8'), areaFor(0.618), morphologicalOpen(u8Image(file, 'mask_u8')));
    expect(Buffer.from(got.data).equals(Buffer.from(u8Image(file, 'post_process.result_u8').data))).toBe(true);
  });

  it('colorCorrection: weight 255 takes the generated pixel, 0 the original, 128 truncates the float32 blend', () => {
    const gen = { data: Uint8Array.of(200, 200, 200), width: 3, height: 1, channels: 1 };
    const orig = { data: Uint8Array.of(0, 0, 0), width: 3, height: 1, channels: 1 };
    const soft = { data: Uint8Array.of(255, 0, 128), width: 3, height: 1, channels: 1 };
    expect(Array.from(colorCorrection(gen, orig, soft).data)).toEqual([200, 0, 100]);
  });
});
