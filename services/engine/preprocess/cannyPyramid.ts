/**
 * Fooocus PyraCanny (`extras/preprocessors.canny_pyramid`), the hint for
 * SAI's Control-LoRA Canny, which reacts to edges at several resolutions:
 *
 *     for k in 0.2, 0.3, …, 1.0:
 *         small = cv2.resize(img, (int(W·k), int(H·k)), INTER_AREA)
 *         edge  = stack(cv2.Canny(small[..., c], low, high) for c in RGB) / 255   (float32)
 *         acc   = edge                                 (first level)
 *                 0.75·cv2.resize(acc, edge size, INTER_LINEAR) + 0.25·edge   (float32)
 *     result = norm255(sum over channels, 1, 99).clip(0, 255).astype(uint8)
 *
 * `int(W·k)` is Python's truncation of the float64 product, so 96·0.3 gives
 * 28 and 80·0.3 gives 24 exactly as Fooocus sizes them. The float32
 * accumulator (`accEdge`) is returned for verification against the golden
 * `.acc_edge` arrays.
 */
import { canny } from './cvCanny.ts';
import { assertImage, channelOf, f32, type F32Image, type U8Image } from './cvImage.ts';
import { resizeArea, resizeLinearF32 } from './cvResize.ts';
import { clipToU8, norm255 } from './norm255.ts';

/** Fooocus's pyramid scales, smallest first. */
export const PYRAMID_SCALES: readonly number[] = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

export interface CannyPyramidResult {
  /** The hint, one byte per pixel (H×W). */
  edges: U8Image;
  /** The float32 HWC accumulator before the channel sum (Fooocus `pyramid_canny_color`). */
  accEdge: F32Image;
}

/** Canny of each RGB channel, as float32 0/1 (Fooocus `centered_canny_color`). */
function cannyColor(image: U8Image, low: number, high: number): F32Image {
  const { width, height } = image;
  const out = new Float32Array(width * height * 3);
  for (let c = 0; c < 3; c++) {
    const edge = canny(channelOf(image, c), low, high);
    for (let i = 0; i < width * height; i++) out[i * 3 + c] = edge.data[i] / 255;
  }
  return { data: out, width, height, channels: 3 };
}

/** `pyramid_canny_color(img, low, high)`: the float32 HWC accumulator. */
export function pyramidCannyColor(image: U8Image, low: number, high: number, scales: readonly number[] = PYRAMID_SCALES): F32Image {
  assertImage(image, 'pyramidCannyColor');
  if (image.channels !== 3) throw new RangeError(`pyramidCannyColor: ${image.channels} channels, expected 3`);
  let acc: F32Image | undefined;
  for (const k of scales) {
    const w = Math.trunc(image.width * k);
    const h = Math.trunc(image.height * k);
    const edge = cannyColor(resizeArea(image, w, h), low, high);
    if (!acc) {
      acc = edge;
      continue;
    }
    const up = resizeLinearF32(acc, edge.width, edge.height);
    const data = new Float32Array(up.data.length);
    for (let i = 0; i < data.length; i++) data[i] = f32(f32(up.data[i] * 0.75) + f32(edge.data[i] * 0.25));
    acc = { data, width: edge.width, height: edge.height, channels: 3 };
  }
  if (!acc) throw new RangeError('pyramidCannyColor: no scales');
  return acc;
}

/** Fooocus `canny_pyramid(img, low, high)` of an RGB 8-bit image. */
export function cannyPyramid(image: U8Image, low: number, high: number): CannyPyramidResult {
  const accEdge = pyramidCannyColor(image, low, high);
  const n = accEdge.width * accEdge.height;
  const summed = new Float32Array(n);
  for (let i = 0; i < n; i++) summed[i] = f32(f32(accEdge.data[i * 3] + accEdge.data[i * 3 + 1]) + accEdge.data[i * 3 + 2]);
  const edges = clipToU8(norm255(summed, 1, 99));
  return { edges: { data: edges, width: accEdge.width, height: accEdge.height, channels: 1 }, accEdge };
}
