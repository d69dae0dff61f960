/**
 * CPDS against the golden-features set (README §8, OpenCV 4.6.0): the
 * blurred input, both `cv2.decolor` outputs and the hint, bit for bit;
 * plus decolor's behaviour on hand-made images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/safetensors.ts';
import { decolor } from './cvDecolor.ts';
import { gaussianBlurU8 } from './cvGaussianBlur.ts';
import { cpds } from './cpds.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.preprocessors;
const file = openSafetensors(join(FEATURES, section.file));
afterAll(() => file.close());

const bytes = (name: string) => file.tensor(name).data as Uint8Array;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

function input(name: string) {
  const [height, width] = file.info(`${name}.input_u8`).shape;
  return { data: bytes(`${name}.input_u8`), width, height, channels: 3 };
}

describe('decolor', () => {
  it('gives 0 for a flat image (no gradients: OpenCV’s failed solve and 0/0 normalisation)', () => {
    const flat = { data: new Uint8Array(8 * 6 * 3).fill(90), width: 8, height: 6, channels: 3 };
    const { gray, boost } = decolor(flat);
    expect(Array.from(gray.data).every((v) => v === 0)).toBe(true);
    expect(boost.data.length).toBe(8 * 6 * 3);
  });

  it('gives 0 when a channel is constant (its monomial gradients vanish, the normal matrix is singular)', () => {
    const w = 8;
    const data = new Uint8Array(w * w * 3);
    for (let i = 0; i < w * w; i++) data.set([(i * 37) % 256, (i * 91) % 256, 100], i * 3);
    expect(Array.from(decolor({ data, width: w, height: w, channels: 3 }).gray.data).every((v) => v === 0)).toBe(true);
  });

  it('maps a colourful image onto 0…255 with gray following brightness', () => {
    const w = 16;
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    const data = new Uint8Array(w * w * 3).map(() => next());
    const { gray } = decolor({ data, width: w, height: w, channels: 3 });
    expect(Math.min(...gray.data)).toBe(0);
    expect(Math.max(...gray.data)).toBe(255);
    const lum = Array.from({ length: w * w }, (_, i) => data[i * 3] + data[i * 3 + 1] + data[i * 3 + 2]);
    const g = Array.from(gray.data);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const [ml, mg] = [mean(lum), mean(g)];
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < g.length; i++) {
      sxy += (lum[i] - ml) * (g[i] - mg);
      sxx += (lum[i] - ml) ** 2;
      syy += (g[i] - mg) ** 2;
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.7);
  });
});

describe('cpds', () => {
  for (const item of section.items as { name: string }[]) {
    it(`matches OpenCV for ${item.name}: blur, decolor gray and boost, hint`, () => {
      const got = cpds(input(item.name));
      expect(same(got.blurred.data, bytes(`${item.name}.cpds.blurred`))).toBe(true);
      expect(same(got.decolorGray.data, bytes(`${item.name}.cpds.decolor_gray`))).toBe(true);
      expect(same(got.decolorBoost.data, bytes(`${item.name}.cpds.decolor_boost`))).toBe(true);
      expect(same(got.hint.data, bytes(`${item.name}.cpds`))).toBe(true);
    });

    it(`decolors the recorded blurred ${item.name} exactly as OpenCV`, () => {
      const [height, width] = file.info(`${item.name}.input_u8`).shape;
      const { gray } = decolor({ data: bytes(`${item.name}.cpds.blurred`), width, height, channels: 3 });
      expect(same(gray.data, bytes(`${item.name}.cpds.decolor_gray`))).toBe(true);
      expect(same(gaussianBlurU8(input(item.name), 0.8).data, bytes(`${item.name}.cpds.blurred`))).toBe(true);
    });
  }
});
