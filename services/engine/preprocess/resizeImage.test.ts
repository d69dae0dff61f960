/**
 * Fooocus `resize_image` modes against the golden-features set (PIL,
 * README §8) and on hand-made images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/safetensors.ts';
import { resampleBicubicBox } from './pilBoxResample.ts';
import { resizeImage, type ResizeMode } from './resizeImage.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.preprocessors;
const file = openSafetensors(join(FEATURES, section.file));
afterAll(() => file.close());

/** A `width × height` RGB image whose rows all hold `rowValue(y)`. */
function rows(width: number, height: number, rowValue: (y: number) => number) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) data.fill(rowValue(y), y * width * 3, (y + 1) * width * 3);
  return { data, width, height, channels: 3 };
}

describe('resampleBicubicBox', () => {
  it('stretches a zero-height box at the top as 1.125·row0 − 0.125·row1 (PIL bicubic)', () => {
    const img = rows(4, 2, (y) => (y === 0 ? 100 : 20));
    expect(Array.from(resampleBicubicBox(img, 4, 3, [0, 0, 4, 0]).data.slice(0, 3))).toEqual([110, 110, 110]);
    expect(Array.from(resampleBicubicBox(img, 4, 3, [0, 2, 4, 2]).data.slice(0, 3))).toEqual([10, 10, 10]);
  });
});

describe('resizeImage', () => {
  it('mode 0 stretches to the exact size', () => {
    const out = resizeImage(rows(8, 4, () => 60), 5, 9, 0);
    expect([out.width, out.height]).toEqual([5, 9]);
    expect(Array.from(out.data).every((v) => v === 60)).toBe(true);
  });

  it('mode 1 covers the frame and crops the overflow (no black bars)', () => {
    const out = resizeImage(rows(8, 4, () => 60), 6, 6, 1);
    expect([out.width, out.height]).toEqual([6, 6]);
    expect(Array.from(out.data).every((v) => v === 60)).toBe(true);
  });

  it('mode 2 fits the image and fills the bands with stretched edge rows', () => {
    // 4×2 into 4×4: the image sits in rows 1–2, row 0 and row 3 are edge stretches.
    const out = resizeImage(rows(4, 2, (y) => (y === 0 ? 100 : 20)), 4, 4, 2);
    const row = (y: number) => out.data[y * 4 * 3];
    expect([row(0), row(1), row(2), row(3)]).toEqual([110, 100, 20, 10]);
  });

  for (const r of section.resize as { key: string; src: string; mode: ResizeMode; width: number; height: number }[]) {
    it(`matches Fooocus/PIL for ${r.key}`, () => {
      const [height, width] = file.info(r.src).shape;
      const src = { data: file.tensor(r.src).data as Uint8Array, width, height, channels: 3 };
      const got = resizeImage(src, r.width, r.height, r.mode);
      expect(Buffer.from(got.data).equals(Buffer.from(file.tensor(r.key).data as Uint8Array))).toBe(true);
    });
  }
});
