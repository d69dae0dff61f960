/** The inpaint image pipeline in Fooocus' order on the golden canvas. */
import { afterAll, describe, expect, it } from 'vitest';
import { resampleLanczos } from '../image/resampleLanczos.ts';
import { cropImage } from './interestedArea.ts';
import { erodeOrDilate, invertMask, morphologicalOpen } from './maskMorphology.ts';
import { prepareInpaintMask, prepareInpaintTask } from './inpaintTask.ts';
import { inpaintSection, openCase, u8Image } from './testSupport/inpaintGolden.ts';

const file = openCase(inpaintSection.cv_file);
afterAll(() => file.close());

describe('prepareInpaintMask', () => {
  it('merges the upload, then erodes/dilates, then inverts', () => {
    const drawn = u8Image(file, 'mask_u8');
    const merged = u8Image(file, 'upload.merged_mask');
    const got = prepareInpaintMask(drawn, { upload: u8Image(file, 'upload.mask_rgb_u8'), erodeOrDilate: 3, invert: true });
    expect(Array.from(got.data)).toEqual(Array.from(invertMask(erodeOrDilate(merged, 3)).data));
    expect(prepareInpaintMask(drawn)).toBe(drawn);
  });
});

describe('prepareInpaintTask', () => {
  it('crops the k = 0.618 area, reaches shape ceil 1024 with the resampled, thresholded crop mask and a fill', async () => {
    const image = u8Image(file, 'image_u8');
    const mask = u8Image(file, 'mask_u8');
    const k = 0.618;
    const upscaled: number[][] = [];
    const task = await prepareInpaintTask({
      image, mask, respectiveField: k, denoise: 1,
      upscale: async (crop) => {
        upscaled.push([crop.height, crop.width]);
        return resampleLanczos(crop, crop.width * 4, crop.height * 4);
      },
    });
    const want = (inpaintSection.cv.interested_area as { k: number; abcd: number[] }[]).find((i) => i.k === k)!.abcd;
    expect(task.area).toEqual(want);
    expect(upscaled).toEqual([[want[1] - want[0], want[3] - want[2]]]);
    expect(Math.ceil(Math.sqrt(task.image.width * task.image.height) / 64) * 64).toBe(1024);
    expect([task.mask.width, task.mask.height]).toEqual([task.image.width, task.image.height]);
    expect(task.mask.data.every((v) => v === 0 || v === 255)).toBe(true);
    expect(task.fill.data).not.toEqual(task.image.data);
    expect(Array.from(task.softMask.data)).toEqual(Array.from(morphologicalOpen(mask).data));
  });

  it('below denoise 0.99 the fill is the crop itself; k = 1 takes the whole canvas', async () => {
    const image = u8Image(file, 'image_u8');
    const task = await prepareInpaintTask({ image, mask: u8Image(file, 'mask_u8'), respectiveField: 1, denoise: 0.5 });
    expect(task.area).toEqual([0, image.height, 0, image.width]);
    expect(task.fill).toBe(task.image);
    expect(cropImage(image, task.area).data).toEqual(image.data);
  });
});
