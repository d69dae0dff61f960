/**
 * Pillow's `Image.resize(size, resample=BICUBIC, box=…)` for 8-bit images
 * (`src/libImaging/Resample.c`), which Fooocus's `resize_image` mode 2 uses
 * to stretch the resized image's first/last row (or column) into the
 * padding: `resized.resize((W, fill), box=(0, 0, W, 0))`.
 *
 * A zero-height box still samples real rows: `scale = 0`, every output
 * centre sits on the box edge and the bicubic taps (a = −0.5) at ±0.5 and
 * ±1.5 reach two source rows, normalised to 1.125 and −0.125. Bicubic is
 * Pillow's default filter for RGB, which is why it — not Lanczos — applies
 * here. The fixed-point rule is the one `resampleLanczos` documents (22
 * fractional bits, 8-bit intermediate), per Pillow's `precompute_coeffs`
 * with box bounds `in0`, `in1`.
 */
import { clip8, pillowCoefficients, PRECISION_BITS, type PillowFilter } from '../image/pillowCoefficients.ts';
import type { U8Image } from './cvImage.ts';

const BICUBIC_SUPPORT = 2;

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const BICUBIC: PillowFilter = { fn: bicubic, support: BICUBIC_SUPPORT };

/** One axis of Pillow's resample: `axis` 'x' resamples columns of each row, 'y' rows of each column. */
function resampleAxis(src: U8Image, outSize: number, in0: number, in1: number, axis: 'x' | 'y'): U8Image {
  const ch = src.channels;
  const inSize = axis === 'x' ? src.width : src.height;
  const { ksize, bounds, kk } = pillowCoefficients(BICUBIC, inSize, in0, in1, outSize);
  const width = axis === 'x' ? outSize : src.width;
  const height = axis === 'x' ? src.height : outSize;
  const out = new Uint8Array(width * height * ch);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = axis === 'x' ? x : y;
      const min = bounds[o * 2];
      const n = bounds[o * 2 + 1];
      for (let c = 0; c < ch; c++) {
        let acc = half;
        for (let t = 0; t < n; t++) {
          const sx = axis === 'x' ? min + t : x;
          const sy = axis === 'x' ? y : min + t;
          acc += src.data[(sy * src.width + sx) * ch + c] * kk[o * ksize + t];
        }
        out[(y * width + x) * ch + c] = clip8(acc);
      }
    }
  }
  return { data: out, width, height, channels: ch };
}

/**
 * `image.resize((width, height), BICUBIC, box=(x0, y0, x1, y1))`. Runs the
 * horizontal pass first and only the passes Pillow would run.
 */
export function resampleBicubicBox(image: U8Image, width: number, height: number, box: readonly [number, number, number, number]): U8Image {
  const [x0, y0, x1, y1] = box;
  const needHorizontal = width !== image.width || x0 !== 0 || x1 !== width;
  const needVertical = height !== image.height || y0 !== 0 || y1 !== height;
  if (!needHorizontal && !needVertical) return { ...image, data: image.data.slice() };
  let current = image;
  // Pillow filters only the rows the vertical pass reads; filtering them all gives the same bytes.
  if (needHorizontal) current = resampleAxis(current, width, x0, x1, 'x');
  if (needVertical) current = resampleAxis(current, height, y0, y1, 'y');
  return current;
}
