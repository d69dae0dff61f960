/**
 * encode_vae_inpaint's pixel-side arithmetic against the golden model case
 * file (masked pixels, latent mask: exact), torch's bilinear resize and
 * round-half-even, and the encode against a stand-in encoder that records
 * what it is fed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';
import { bilinearResize, encodeVaeInpaint, inpaintPosteriorSeeds, latentMaskOf, maskedPixels, roundHalfEven, unitPixels } from './encodeVaeInpaint.ts';
import { inpaintSection, openCase, u8Image } from './testSupport/inpaintGolden.ts';

const cv = openCase(inpaintSection.cv_file);
const model = openCase(inpaintSection.model_file);
afterAll(() => {
  cv.close();
  model.close();
});

describe('encode_vae_inpaint pixel side', () => {
  it('pixels, masked pixels and latent mask equal the golden values exactly', () => {
    const image = u8Image(cv, 'image_u8');
    const mask = u8Image(cv, 'mask_u8');
    const pixels = unitPixels(image);
    expect(Array.from(pixels)).toEqual(Array.from(model.float32('pixels')));
    const mask01 = Float32Array.from(mask.data, (v) => Math.fround(v / 255));
    expect(Array.from(mask01)).toEqual(Array.from(model.float32('pixel_mask')));
    expect(Array.from(maskedPixels(pixels, mask01, 3))).toEqual(Array.from(model.float32('masked_pixels')));
    const [, , lh, lw] = model.info('latent_mask').shape;
    expect(Array.from(latentMaskOf(mask01, image.height, image.width, lh, lw))).toEqual(Array.from(model.float32('latent_mask')));
  });

  it('roundHalfEven rounds ties to even as torch.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, 0.49, 0.51].map(roundHalfEven)).toEqual([0, 2, 2, -0, 0, 1]);
  });

  it('bilinearResize (align_corners False): 2 → 4 interpolates with edge clamping', () => {
    expect(Array.from(bilinearResize(Float32Array.of(0, 1), 1, 2, 1, 4))).toEqual([0, 0.25, 0.75, 1]);
  });

  it('a mask touching one pixel of an 8×8 cell marks the whole latent cell', () => {
    const mask = new Float32Array(16 * 16);
    mask[9 * 16 + 9] = 1; // in cell (1, 1)
    expect(Array.from(latentMaskOf(mask, 16, 16, 2, 2))).toEqual([0, 0, 0, 1]);
  });
});

describe('encodeVaeInpaint', () => {
  it('encodes the grey-masked image and the fill, samples with the given eps, returns the latent mask', async () => {
    const fed: FloatTensor[] = [];
    // Stand-in encoder: moments = [mean = first input channel pooled per 8×8 | logvar 0].
    const encoder = {
      encode: async (t: FloatTensor): Promise<FloatTensor> => {
        fed.push(t);
        const [, , h, w] = t.dims;
        const lh = h / 8;
        const lw = w / 8;
        const out = new Float32Array(8 * lh * lw);
        for (let c = 0; c < 4; c++) for (let p = 0; p < lh * lw; p++) out[c * lh * lw + p] = t.data[Math.floor(p / lw) * 8 * w + (p % lw) * 8];
        return { data: out, dims: [1, 8, lh, lw] };
      },
    };
    const image = { data: new Uint8Array(16 * 8 * 3).fill(255), width: 16, height: 8, channels: 3 };
    const mask = { data: new Uint8Array(16 * 8), width: 16, height: 8, channels: 1 };
    mask.data.fill(255, 0, 8 * 8); // left half of every row… rows 0..3 fully, rows 4..7 none
    const fill = { data: new Uint8Array(16 * 8 * 3), width: 16, height: 8, channels: 3 };
    const eps = new Float32Array(8).fill(0);
    const enc = await encodeVaeInpaint({ encoder, image, mask, fill, seed: 1n, eps: { inpaint: eps, fill: eps } });
    expect(fed).toHaveLength(2);
    expect(enc.latentShape).toEqual([1, 4, 1, 2]);
    // Masked pixels are mid-grey (2·0.5 − 1 = 0), kept pixels white (1); the fill is black (−1).
    expect(fed[0].data[0]).toBe(0);
    expect(fed[0].data[5 * 16]).toBe(1);
    expect(Array.from(enc.latentFill)).toEqual(new Array(8).fill(-1));
    expect(Array.from(enc.latentMask)).toEqual([1, 1]);
  });

  it('seeds the two posterior draws differently', () => {
    const s = inpaintPosteriorSeeds(4711n);
    expect(s.inpaint).not.toBe(s.fill);
  });

  it('refuses a crop that is not a multiple of 8', async () => {
    const img = { data: new Uint8Array(12 * 8 * 3), width: 12, height: 8, channels: 3 };
    const m = { data: new Uint8Array(12 * 8), width: 12, height: 8, channels: 1 };
    await expect(encodeVaeInpaint({ encoder: { encode: async (t) => t }, image: img, mask: m, fill: img, seed: 0n })).rejects.toThrow(/multiple of 8/);
  });
});
