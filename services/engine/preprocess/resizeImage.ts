/**
 * Fooocus `modules/util.resize_image(im, width, height, resize_mode)`, the
 * resize every image prompt goes through (PIL Lanczos, `resampleLanczos`):
 *
 * - mode 0: stretch to width × height;
 * - mode 1 (the ControlNet hint resize): scale to cover, then paste centred
 *   on a black canvas at `(W//2 − w//2, H//2 − h//2)`, which crops;
 * - mode 2: scale to fit, paste centred, and fill the two bands by
 *   stretching the resized image's edge row/column with Pillow's default
 *   bicubic over a zero-extent box (`resampleBicubicBox`).
 *
 * Sizes use Python's floor division on the integer sizes, and the
 * comparisons use the float ratios `width / height`, as Fooocus writes them.
 */
import { resampleLanczos } from '../image/resampleLanczos.ts';
import { assertImage, type U8Image } from './cvImage.ts';
import { resampleBicubicBox } from './pilBoxResample.ts';

/** 0 stretch, 1 fill and centre-crop, 2 fit and pad with edge stretches. */
export type ResizeMode = 0 | 1 | 2;

/** `res.paste(tile, box=(left, top))` onto an RGB canvas; parts outside the canvas are dropped. */
function paste(canvas: U8Image, tile: U8Image, left: number, top: number): void {
  const ch = canvas.channels;
  for (let y = 0; y < tile.height; y++) {
    const cy = y + top;
    if (cy < 0 || cy >= canvas.height) continue;
    for (let x = 0; x < tile.width; x++) {
      const cx = x + left;
      if (cx < 0 || cx >= canvas.width) continue;
      for (let c = 0; c < ch; c++) canvas.data[(cy * canvas.width + cx) * ch + c] = tile.data[(y * tile.width + x) * ch + c];
    }
  }
}

const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/** Fooocus `resize_image` of an RGB 8-bit image. */
export function resizeImage(image: U8Image, width: number, height: number, mode: ResizeMode = 1): U8Image {
  assertImage(image, 'resizeImage');
  if (image.channels !== 3) throw new RangeError(`resizeImage: ${image.channels} channels, expected 3 (HWC3 first)`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`resizeImage: invalid size ${width}×${height}`);
  if (mode === 0) return resampleLanczos(image, width, height);

  const ratio = width / height;
  const srcRatio = image.width / image.height;
  let srcW: number;
  let srcH: number;
  if (mode === 1) {
    srcW = ratio > srcRatio ? width : floorDiv(image.width * height, image.height);
    srcH = ratio <= srcRatio ? height : floorDiv(image.height * width, image.width);
  } else {
    srcW = ratio < srcRatio ? width : floorDiv(image.width * height, image.height);
    srcH = ratio >= srcRatio ? height : floorDiv(image.height * width, image.width);
  }
  const resized = resampleLanczos(image, srcW, srcH);
  const canvas: U8Image = { data: new Uint8Array(width * height * 3), width, height, channels: 3 };
  paste(canvas, resized, floorDiv(width, 2) - floorDiv(srcW, 2), floorDiv(height, 2) - floorDiv(srcH, 2));
  if (mode === 1) return canvas;

  if (ratio < srcRatio) {
    const fill = floorDiv(height, 2) - floorDiv(srcH, 2);
    if (fill > 0) {
      paste(canvas, resampleBicubicBox(resized, width, fill, [0, 0, width, 0]), 0, 0);
      paste(canvas, resampleBicubicBox(resized, width, fill, [0, resized.height, width, resized.height]), 0, fill + srcH);
    }
  } else if (ratio > srcRatio) {
    const fill = floorDiv(width, 2) - floorDiv(srcW, 2);
    if (fill > 0) {
      paste(canvas, resampleBicubicBox(resized, fill, height, [0, 0, 0, height]), 0, 0);
      paste(canvas, resampleBicubicBox(resized, fill, height, [resized.width, 0, resized.width, height]), fill + srcW, 0);
    }
  }
  return canvas;
}
