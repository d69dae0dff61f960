/**
 * Fooocus inpaint post-processing (F modules/inpaint_worker.py post_process,
 * color_correction; pipeline.md §3.3 step 7): the generated crop is
 * PIL-Lanczos resampled back to the interested area's size and pasted into
 * the original, then blended with the original through the soft mask
 * (`morphological_open` of the mask): `fg·w + bg·(1 − w)`, w = mask/255, in
 * float32 as numpy computes it, clipped and truncated to u8.
 */
import { resampleLanczos, type U8Image } from '../image/resampleLanczos.ts';
import type { Abcd } from './interestedArea.ts';
import type { Mask } from './maskMorphology.ts';

/** `color_correction`: the float32 blend of `image` over `original` by `softMask`. */
export function colorCorrection(image: U8Image, original: U8Image, softMask: Mask): U8Image {
  const { width, height, channels: ch } = original;
  if (image.width !== width || image.height !== height || image.channels !== ch) throw new RangeError('colour correction: image sizes differ');
  const f = Math.fround;
  const out = new Uint8Array(image.data.length);
  for (let p = 0; p < width * height; p++) {
    const w = f(softMask.data[p] / 255);
    const inv = f(1 - w);
    for (let c = 0; c < ch; c++) {
      const i = p * ch + c;
      const y = f(f(image.data[i] * w) + f(original.data[i] * inv));
      out[i] = y <= 0 ? 0 : y >= 255 ? 255 : Math.trunc(y);
    }
  }
  return { data: out, width, height, channels: ch };
}

/** `post_process`: resample the generated crop into `area`, paste into `original`, colour-correct with `softMask`. */
export function inpaintPostProcess(generated: U8Image, original: U8Image, area: Abcd, softMask: Mask): U8Image {
  const [a, b, c, d] = area;
  const content = resampleLanczos(generated, d - c, b - a);
  const ch = original.channels;
  if (content.channels !== ch) throw new RangeError(`generated image has ${content.channels} channels, the original ${ch}`);
  const pasted = original.data.slice();
  for (let y = 0; y < b - a; y++) {
    pasted.set(content.data.subarray(y * content.width * ch, (y + 1) * content.width * ch), ((y + a) * original.width + c) * ch);
  }
  return colorCorrection({ ...original, data: pasted }, original, softMask);
}
