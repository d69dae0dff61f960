/**
 * PyraCanny against the golden-features set (README §8, OpenCV 4.6.0):
 * every threshold pair of every image, the u8 hint and the float32
 * accumulator, bit for bit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/safetensors.ts';
import { cannyPyramid, PYRAMID_SCALES, pyramidCannyColor } from './cannyPyramid.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.preprocessors;
const file = openSafetensors(join(FEATURES, section.file));
afterAll(() => file.close());

function input(name: string) {
  const [height, width] = file.info(`${name}.input_u8`).shape;
  return { data: file.tensor(`${name}.input_u8`).data as Uint8Array, width, height, channels: 3 };
}

describe('cannyPyramid', () => {
  it('uses the scales the set lists', () => {
    expect(PYRAMID_SCALES).toEqual(section.pyramid_scales);
  });

  it('marks a square outline on a flat background and nothing inside it', () => {
    const w = 40;
    const data = new Uint8Array(w * w * 3);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) data.set([220, 220, 220], (y * w + x) * 3);
    const { edges } = cannyPyramid({ data, width: w, height: w, channels: 3 }, 64, 128);
    expect(edges.data[20 * w + 20]).toBe(0);
    expect(edges.data[2 * w + 2]).toBe(0);
    expect(Math.max(edges.data[20 * w + 9], edges.data[20 * w + 10])).toBe(255);
  });

  it('returns a float32 accumulator of 0…1 per channel at full size', () => {
    const acc = pyramidCannyColor(input('img1'), 64, 128);
    expect([acc.width, acc.height, acc.channels]).toEqual([80, 80, 3]);
    expect(Math.max(...acc.data)).toBeLessThanOrEqual(1);
    expect(Math.min(...acc.data)).toBeGreaterThanOrEqual(0);
  });

  for (const item of section.items as { name: string; thresholds: [number, number][] }[]) {
    for (const [low, high] of item.thresholds) {
      it(`matches OpenCV for ${item.name} at (${low}, ${high}) bit for bit`, () => {
        const key = `${item.name}.pyracanny_${low}_${high}`;
        const got = cannyPyramid(input(item.name), low, high);
        expect(Buffer.from(got.edges.data).equals(Buffer.from(file.tensor(key).data as Uint8Array))).toBe(true);
        expect(Array.from(got.accEdge.data)).toEqual(Array.from(file.float32(`${key}.acc_edge`)));
      });
    }
  }
});
