/**
 * Fooocus' input-image rules for Vary against the golden-features set
 * (README §5, `cases/inpaint_cv.safetensors` and `cases.json → inpaint.cv`):
 * PIL Lanczos bit for bit, `set_image_shape_ceil` sizes, HWC3 alpha
 * compositing; plus Vary's clamp to 1024–2048 and the VAE's crop to 8.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/safetensors.ts';
import { decodeRgb8, hwc3 } from './decodeImage.ts';
import { resampleLanczos, type U8Image } from './resampleLanczos.ts';
import { cropToVaeMultiple, getShapeCeil, setImageShapeCeil, shapeCeilSize, varyInputImage, varyShapeCeil } from './varyInputImage.ts';

const FEATURES = '/work/shared/golden-features';
const cv = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.inpaint.cv;
const file = openSafetensors(join(FEATURES, 'cases/inpaint_cv.safetensors'));
afterAll(() => file.close());

const u8 = (name: string) => file.tensor(name).data as Uint8Array;
const shape = (name: string) => file.info(name).shape;

/** `name` or `name[:rows,:cols]` of the case file as an image. */
function source(spec: string): U8Image {
  const m = /^(\w+)(?:\[:(\d+),:(\d+)\])?$/.exec(spec)!;
  const [h, w, c = 1] = shape(m[1]);
  const rows = m[2] ? Number(m[2]) : h;
  const cols = m[3] ? Number(m[3]) : w;
  const data = new Uint8Array(rows * cols * c);
  for (let y = 0; y < rows; y++) data.set(u8(m[1]).subarray(y * w * c, (y * w + cols) * c), y * cols * c);
  return { data, width: cols, height: rows, channels: c };
}

describe('resampleLanczos (PIL Image.resize LANCZOS)', () => {
  for (const name of ['resample.rgb_down', 'resample.rgb_up', 'resample.gray_up']) {
    it(`${name} is bit-identical to PIL`, () => {
      const spec = cv[name] as { src: string; width: number; height: number };
      const got = resampleLanczos(source(spec.src), spec.width, spec.height);
      expect([got.height, got.width]).toEqual(shape(name).slice(0, 2));
      expect(Buffer.from(got.data).equals(Buffer.from(u8(name)))).toBe(true);
    });
  }

  it('the advanced-mask upload resample (96×128 RGB) is bit-identical too', () => {
    const img = { data: u8('upload.resampled_u8'), width: 128, height: 96, channels: 3 };
    // Same size in and out: PIL returns a copy.
    expect(Buffer.from(resampleLanczos(img, 128, 96).data).equals(Buffer.from(img.data))).toBe(true);
  });
});

describe('set_image_shape_ceil', () => {
  for (const c of cv.set_image_shape_ceil as { hw: [number, number]; shape_ceil: number; get_shape_ceil: number; result_hw: [number, number] | null }[]) {
    it(`${c.hw.join('×')} → ceil ${c.shape_ceil}: ${c.result_hw ? c.result_hw.join('×') : '(not recorded)'}`, () => {
      expect(getShapeCeil(c.hw[0], c.hw[1])).toBe(c.get_shape_ceil);
      if (c.result_hw) {
        const got = shapeCeilSize(c.hw[0], c.hw[1], c.shape_ceil);
        expect([got.height, got.width]).toEqual(c.result_hw);
      }
    });
  }

  it('returns the very image when the size already matches, a Lanczos resample otherwise', () => {
    const img: U8Image = { data: new Uint8Array(1216 * 832 * 3).fill(7), width: 832, height: 1216, channels: 3 };
    expect(setImageShapeCeil(img, 1024)).toBe(img);
    const small = source('image_u8');
    const out = setImageShapeCeil(small, 1024);
    expect([out.height, out.width]).toEqual([896, 1152]);
    expect(Buffer.from(out.data).equals(Buffer.from(resampleLanczos(small, 1152, 896).data))).toBe(true);
  });
});

describe('Vary input size', () => {
  it('clamps the shape ceil to 1024–2048', () => {
    expect(varyShapeCeil(96, 128)).toBe(1024);
    expect(varyShapeCeil(1216, 832)).toBe(1024);
    expect(varyShapeCeil(1536, 1536)).toBe(1536);
    expect(varyShapeCeil(3000, 2000)).toBe(2048);
  });

  it('a small image is enlarged to the 1024 ceil with multiples of 64', () => {
    const out = varyInputImage(source('image_u8'));
    expect([out.width, out.height]).toEqual([1152, 896]);
    expect(out.data.length).toBe(1152 * 896 * 3);
  });

  it('an image already in range keeps its pixels, centre-cropped to multiples of 8 for the VAE', () => {
    const w = 1203;
    const h = 1029;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const img: U8Image = { data, width: w, height: h, channels: 3 };
    expect(varyShapeCeil(h, w)).toBe(getShapeCeil(h, w));
    const out = varyInputImage(img);
    expect([out.width, out.height]).toEqual([1200, 1024]);
    // ComfyUI offsets: (1029 % 8) // 2 = 2 rows, (1203 % 8) // 2 = 1 column.
    expect(Array.from(out.data.subarray(0, 3))).toEqual(Array.from(data.subarray((2 * w + 1) * 3, (2 * w + 1) * 3 + 3)));
    expect(cropToVaeMultiple(out)).toBe(out);
  });
});

describe('HWC3 and decoding', () => {
  it('composites RGBA over white exactly as Fooocus (hwc3.rgba_in → hwc3.rgb_out)', () => {
    const [h, w] = shape('hwc3.rgba_in');
    const got = hwc3({ data: u8('hwc3.rgba_in'), width: w, height: h, channels: 4 });
    expect(Buffer.from(got.data).equals(Buffer.from(u8('hwc3.rgb_out')))).toBe(true);
  });

  it('decodes an RGBA PNG through HWC3 and a gray PNG into three equal channels', async () => {
    const [h, w] = shape('hwc3.rgba_in');
    const png = await sharp(Buffer.from(u8('hwc3.rgba_in')), { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
    const rgb = await decodeRgb8(png);
    expect([rgb.width, rgb.height, rgb.channels]).toEqual([w, h, 3]);
    expect(Buffer.from(rgb.data).equals(Buffer.from(u8('hwc3.rgb_out')))).toBe(true);
    const gray = await sharp(Buffer.from(Uint8Array.from({ length: 12 }, (_, i) => i * 20)), { raw: { width: 4, height: 3, channels: 1 } }).png().toBuffer();
    const g = await decodeRgb8(gray);
    expect(g.channels).toBe(3);
    expect(Array.from(g.data.subarray(3 * 5, 3 * 6))).toEqual([100, 100, 100]);
  });
});
