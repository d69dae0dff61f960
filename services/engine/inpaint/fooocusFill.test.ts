/** PIL BoxBlur reproduced bit for bit, and fooocus_fill against the golden fill (exact). */
import { afterAll, describe, expect, it } from 'vitest';
import { boxBlur } from './boxBlur.ts';
import { fooocusFill } from './fooocusFill.ts';
import { inpaintSection, openCase, u8Image } from './testSupport/inpaintGolden.ts';

const file = openCase(inpaintSection.cv_file);
const model = openCase(inpaintSection.model_file);
afterAll(() => {
  file.close();
  model.close();
});

describe('boxBlur (Pillow BoxBlur.c)', () => {
  it('keeps a constant image constant, whatever the radius', () => {
    const img = { data: new Uint8Array(5 * 3 * 3).fill(200), width: 5, height: 3, channels: 3 };
    for (const r of [1, 3, 64]) expect(boxBlur(img, r).data.every((v) => v === 200)).toBe(true);
  });

  it('radius 1 on a single bright pixel: Pillow fixed-point weights (ww = 5592405, fw = 1)', () => {
    // One row: 2^24/3 truncated in float32 = 5592405; (255·5592405 + 2^23) >> 24 = 85 for the three taps.
    const img = { data: Uint8Array.of(0, 0, 255, 0, 0), width: 5, height: 1, channels: 1 };
    expect(Array.from(boxBlur(img, 1).data)).toEqual([0, 85, 85, 85, 0]);
  });

  it('radius 0 is a copy', () => {
    const img = { data: Uint8Array.of(1, 2, 3), width: 3, height: 1, channels: 1 };
    const out = boxBlur(img, 0);
    expect(Array.from(out.data)).toEqual([1, 2, 3]);
    expect(out.data).not.toBe(img.data);
  });
});

describe('fooocusFill', () => {
  it('equals the golden fooocus_fill (and the model case file fill_u8)', () => {
    const got = fooocusFill(u8Image(file, 'image_u8'), u8Image(file, 'mask_u8'));
    expect(Buffer.from(got.data).equals(Buffer.from(u8Image(file, 'fooocus_fill').data))).toBe(true);
    expect(Buffer.from(got.data).equals(Buffer.from(u8Image(model, 'fill_u8').data))).toBe(true);
  });

  it('never changes a pixel outside the mask', () => {
    const image = u8Image(file, 'image_u8');
    const mask = u8Image(file, 'mask_u8');
    const got = fooocusFill(image, mask);
    for (let p = 0; p < mask.data.length; p++) {
      if (mask.data[p] < 127) for (let c = 0; c < 3; c++) expect(got.data[p * 3 + c]).toBe(image.data[p * 3 + c]);
    }
  });
});
