/**
 * PIL's `ImageFilter.BoxBlur(radius)` on 8-bit images, bit for bit (Pillow
 * `src/libImaging/BoxBlur.c`, one pass, n = 1), for Fooocus' `fooocus_fill`.
 *
 * Pillow blurs rows, writes 8-bit, transposes, blurs rows again (the
 * columns), transposes back; here the column pass runs down the rows with
 * the same integer sums (no transposes). One pass, for radius r (integer
 * here, as Fooocus passes ints) and edge pixels repeated:
 *   ww = (UINT32)((float)2^24 / (float)(2r + 1))      (float32 division, truncated)
 *   fw = (2^24 − (2r + 1)·ww) / 2                      (integer)
 *   out[x] = (ww·Σ_{j=x−r}^{x+r} p[j] + fw·(p[x−r−1] + p[x+r+1]) + 2^23) >> 24
 * with indices clamped to the row. Pillow keeps the sum in a sliding
 * accumulator; the clamped-window sum here is the same integer, so the
 * output is identical. All products stay below 2^32, exact in doubles.
 * The 8-bit intermediate after the row pass is part of the result.
 */
import type { U8Image } from '../image/resampleLanczos.ts';

/**
 * One Pillow horizontal box-blur pass over every row of an HWC image into
 * `dst`. Each row is extended by r + 1 edge copies on both sides, so the
 * clamped window sum is a difference of two prefix sums and the far taps are
 * plain reads; channels stay interleaved (one sequential sweep per row).
 */
function blurRows(src: Uint8Array, dst: Uint8Array, rows: number, len: number, ch: number, radius: number): void {
  const ww = Math.trunc(Math.fround(0x1000000 / Math.fround(radius * 2 + 1)));
  const fw = Math.floor((0x1000000 - (radius * 2 + 1) * ww) / 2);
  const pad = radius + 1;
  const extLen = len + 2 * pad;
  const ext = new Int32Array(extLen * ch);
  // Sums stay below 255·(len + 2r + 2) < 2^31 for any image this engine accepts.
  const prefix = new Int32Array((extLen + 1) * ch);
  const span = 2 * radius + 1;
  const rowBytes = len * ch;
  for (let y = 0; y < rows; y++) {
    const base = y * rowBytes;
    for (let c = 0; c < ch; c++) {
      const first = src[base + c];
      const last = src[base + rowBytes - ch + c];
      for (let e = 0; e < pad; e++) {
        ext[e * ch + c] = first;
        ext[(pad + len + e) * ch + c] = last;
      }
    }
    for (let i = 0; i < rowBytes; i++) ext[pad * ch + i] = src[base + i];
    for (let i = 0; i < extLen * ch; i++) prefix[i + ch] = prefix[i] + ext[i];
    // Pixel x sits at ext[x + pad]: window ext[x + 1 … x + span], far taps ext[x] and ext[x + span + 1].
    const far = (span + 1) * ch;
    for (let i = 0; i < rowBytes; i++) {
      const acc = prefix[i + far] - prefix[i + ch];
      // bulk < 2^32: the shift is a division by 2^24 of an exact double, truncated like C's >> 24.
      const bulk = acc * ww + (ext[i] + ext[i + far]) * fw + 0x800000;
      dst[base + i] = (bulk / 0x1000000) | 0;
    }
  }
}

/**
 * The column pass, computed down the rows with one running window sum per
 * byte of a row (the same integers Pillow's transposed row pass sums), so
 * memory is read row by row instead of transposed twice.
 */
function blurColumns(src: Uint8Array, dst: Uint8Array, rows: number, rowBytes: number, radius: number): void {
  const ww = Math.trunc(Math.fround(0x1000000 / Math.fround(radius * 2 + 1)));
  const fw = Math.floor((0x1000000 - (radius * 2 + 1) * ww) / 2);
  const last = rows - 1;
  const row = (y: number) => (y < 0 ? 0 : y > last ? last : y) * rowBytes;
  const acc = new Int32Array(rowBytes);
  // Window of the virtual row −1: rows −1−r … −1+r, clamped.
  for (let j = -1 - radius; j <= radius - 1; j++) {
    const o = row(j);
    for (let i = 0; i < rowBytes; i++) acc[i] += src[o + i];
  }
  for (let y = 0; y < rows; y++) {
    const add = row(y + radius);
    const sub = row(y - radius - 1);
    const farRight = row(y + radius + 1);
    const out = y * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const a = (acc[i] += src[add + i] - src[sub + i]);
      const bulk = a * ww + (src[sub + i] + src[farRight + i]) * fw + 0x800000;
      dst[out + i] = (bulk / 0x1000000) | 0;
    }
  }
}

/** `Image.fromarray(x).filter(ImageFilter.BoxBlur(radius))` for an integer radius ≥ 0. */
export function boxBlur(image: U8Image, radius: number): U8Image {
  if (!Number.isInteger(radius) || radius < 0) throw new RangeError(`box blur radius must be a non-negative integer, got ${radius}`);
  if (radius === 0) return { ...image, data: image.data.slice() };
  const { width, height, channels: ch } = image;
  const horizontal = new Uint8Array(image.data.length);
  blurRows(image.data, horizontal, height, width, ch, radius);
  // Pillow blurs the columns as rows of the transposed image; the same sums, taken down the rows.
  const out = new Uint8Array(image.data.length);
  blurColumns(horizontal, out, height, width * ch, radius);
  return { ...image, data: out };
}
