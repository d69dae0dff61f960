/**
 * Fooocus's image-prompt preprocessing for CLIP vision (async_worker.py
 * image prompt branch, then extras/ip_adapter.py `preprocess` /
 * `clip_preprocess`): HWC3, `resize_image(img, 224, 224, mode 0)` (a Lanczos
 * stretch, no crop), `/255` in float32, then `(x − mean)/std` per channel
 * with OpenAI CLIP's mean/std, as NCHW. Float32 arithmetic step by step, as
 * torch does it, so the pixels match bit for bit.
 */
import { hwc3 } from '../image/decodeImage.ts';
import type { U8Image } from '../image/resampleLanczos.ts';
import { resizeImage } from '../preprocess/resizeImage.ts';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

export interface ClipVisionPixels {
  /** The stretched 8-bit RGB image (size × size). */
  image: U8Image;
  /** [1, 3, size, size] normalised. */
  pixels: { data: Float32Array; dims: [1, 3, number, number] };
}

/** `size`: the tower's image size (ClipVisionConfig.imageSize; 224 for ViT-H/14). */
export function clipVisionPixels(input: U8Image, size = 224): ClipVisionPixels {
  const image = resizeImage(hwc3(input), size, size, 0);
  const f = Math.fround;
  const plane = size * size;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = f(CLIP_MEAN[c]);
    const std = f(CLIP_STD[c]);
    for (let p = 0; p < plane; p++) data[c * plane + p] = f(f(f(image.data[p * 3 + c] / 255) - mean) / std);
  }
  return { image, pixels: { data, dims: [1, 3, size, size] } };
}
