/**
 * Fooocus' mask operations against the golden inpaint_cv arrays (exact), and
 * the OpenCV border rule on a hand-sized mask.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { erodeOrDilate, invertMask, mergeUploadedMask, morphologicalOpen, up255, type Mask } from './maskMorphology.ts';
import { inpaintSection, openCase, u8Image } from './testSupport/inpaintGolden.ts';

const file = openCase(inpaintSection.cv_file);
afterAll(() => file.close());
const mask = () => u8Image(file, 'mask_u8');

const tiny = (rows: string[]): Mask => ({
  data: Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 255 : 0)),
  width: rows[0].length,
  height: rows.length,
  channels: 1,
});
const show = (m: Mask) => Array.from({ length: m.height }, (_, y) => Array.from(m.data.subarray(y * m.width, (y + 1) * m.width), (v) => (v ? '#' : '.')).join(''));

describe('erodeOrDilate (cv2 3×3, iterations)', () => {
  for (const k of inpaintSection.erode_or_dilate as number[]) {
    it(`k = ${k} equals the golden erode_or_dilate.${k}`, () => {
      expect(Buffer.from(erodeOrDilate(mask(), k).data).equals(Buffer.from(u8Image(file, `erode_or_dilate.${k}`).data))).toBe(true);
    });
  }

  it('k = 0 returns the mask unchanged', () => {
    const m = mask();
    expect(erodeOrDilate(m, 0)).toBe(m);
  });

  it('dilates a corner pixel without wrapping, and erosion ignores the outside (OpenCV default border)', () => {
    expect(show(erodeOrDilate(tiny(['#...', '....', '....']), 1))).toEqual(['##..', '##..', '....']);
    expect(show(erodeOrDilate(tiny(['###.', '###.', '###.']), -1))).toEqual(['##..', '##..', '##..']);
  });
});

describe('invert, upload merge, threshold', () => {
  it('invertMask is 255 − mask (golden inverted)', () => {
    expect(Buffer.from(invertMask(mask()).data).equals(Buffer.from(u8Image(file, 'inverted').data))).toBe(true);
  });

  it('mergeUploadedMask resamples the upload with PIL Lanczos and max-combines its channel-mean threshold', () => {
    const { merged, resampled } = mergeUploadedMask(mask(), u8Image(file, 'upload.mask_rgb_u8'));
    expect(Buffer.from(resampled.data).equals(Buffer.from(u8Image(file, 'upload.resampled_u8').data))).toBe(true);
    expect(Buffer.from(merged.data).equals(Buffer.from(u8Image(file, 'upload.merged_mask').data))).toBe(true);
  });

  it('up255 keeps only values above the threshold', () => {
    const m: Mask = { data: Uint8Array.of(0, 127, 128, 255), width: 4, height: 1, channels: 1 };
    expect(Array.from(up255(m, 127).data)).toEqual([0, 0, 255, 255]);
  });

  it('refuses a multi-channel mask', () => {
    expect(() => erodeOrDilate({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 }, 1)).toThrow(/one channel/);
  });
});

describe('morphologicalOpen (soft blend mask)', () => {
  it('equals the golden morphological_open', () => {
    expect(Buffer.from(morphologicalOpen(mask()).data).equals(Buffer.from(u8Image(file, 'morphological_open').data))).toBe(true);
  });

  it('falls off by 8 per pixel from the mask edge, clipped at 255', () => {
    const m: Mask = { data: new Uint8Array(40), width: 40, height: 1, channels: 1 };
    m.data[0] = 255;
    const got = morphologicalOpen(m).data;
    expect(got[0]).toBe(255);
    expect(got[1]).toBe(248);
    expect(got[2]).toBe(240);
    expect(got[32]).toBe(0);
  });
});
