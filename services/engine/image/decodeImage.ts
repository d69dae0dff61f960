/**
 * Encoded image bytes (PNG, JPEG, WebP, what the API stores under `inputs/`)
 * → 8-bit RGB, the way Fooocus receives an input image: decoded, then
 * `HWC3` (F modules/util.py): gray is repeated
 * into three channels, an alpha channel is composited over white as
 * `color·α + 255·(1 − α)` in float32 and truncated to 8 bits.
 * Decoding is sharp's (libvips); the compositing is done here so that it is
 * Fooocus' arithmetic, not libvips' rounding.
 */
import sharp from 'sharp';
import type { U8Image } from './resampleLanczos.ts';

export async function decodeRgb8(bytes: Uint8Array): Promise<U8Image> {
  const { data, info } = await sharp(bytes).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return hwc3({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels });
}

/** Fooocus HWC3 for 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels. */
export function hwc3(image: U8Image): U8Image {
  const { data, width, height, channels } = image;
  if (channels === 3) return image;
  if (channels < 1 || channels > 4) throw new RangeError(`HWC3: ${channels} channels`);
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  const hasAlpha = channels === 2 || channels === 4;
  const colour = hasAlpha ? channels - 1 : channels;
  const f = Math.fround;
  for (let p = 0; p < plane; p++) {
    const alpha = hasAlpha ? f(data[p * channels + channels - 1] / 255) : 1;
    const background = hasAlpha ? f(255 * f(1 - alpha)) : 0;
    for (let c = 0; c < 3; c++) {
      const v = data[p * channels + (colour === 1 ? 0 : c)];
      if (!hasAlpha) {
        out[p * 3 + c] = v;
        continue;
      }
      const y = f(f(v * alpha) + background);
      out[p * 3 + c] = y <= 0 ? 0 : y >= 255 ? 255 : Math.trunc(y);
    }
  }
  return { data: out, width, height, channels: 3 };
}
