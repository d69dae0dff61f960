/**
 * Fooocus' "interested area" of an inpaint (F modules/inpaint_worker.py
 * compute_initial_abcd / solve_abcd / regulate_abcd; pipeline.md §3.3 step 2,
 * golden-features README §5): the box that is cropped, upscaled to a shape
 * ceil of 1024, diffused, and pasted back.
 *
 * Boxes are `[a, b, c, d]` = rows [a, b), columns [c, d), as Fooocus slices
 * `image[a:b, c:d]`. The loop of solve_abcd is reproduced step by step (it
 * grows by one pixel per side per iteration, with Fooocus' tie and
 * saturation rules), because a closed form would have to re-derive those
 * rules and the loop is at most max(H, W) iterations.
 */
import type { Mask } from './maskMorphology.ts';

/** Rows [a, b) and columns [c, d). */
export type Abcd = readonly [a: number, b: number, c: number, d: number];

/** Respective-field presets (Fooocus UI default, "Detail" mode, outpaint). */
export const RESPECTIVE_FIELD_DEFAULT = 0.618;

function regulate(height: number, width: number, a: number, b: number, c: number, d: number): [number, number, number, number] {
  const clip = (v: number, hi: number) => Math.trunc(Math.min(hi, Math.max(0, v)));
  return [clip(a, height), clip(b, height), clip(c, width), clip(d, width)];
}

/**
 * Fooocus `compute_initial_abcd(mask > 0)`: the mask's bounding box (inclusive
 * ends), made square around its centre with half-side `int(max(half-sides)·1.15)`,
 * clipped to the image. Throws when the mask is empty (numpy's min of an empty
 * array raises in Fooocus too).
 */
export function computeInitialAbcd(mask: Mask): [number, number, number, number] {
  const { width, height, data } = mask;
  let a = Infinity, b = -Infinity, c = Infinity, d = -Infinity;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue;
      if (y < a) a = y;
      if (y > b) b = y;
      if (x < c) c = x;
      if (x > d) d = x;
    }
  }
  if (a === Infinity) throw new RangeError('the inpaint mask is empty: nothing to repaint');
  const abp = Math.floor((b + a) / 2);
  const abm = Math.floor((b - a) / 2);
  const cdp = Math.floor((d + c) / 2);
  const cdm = Math.floor((d - c) / 2);
  const l = Math.trunc(Math.max(abm, cdm) * 1.15);
  return regulate(height, width, abp - l, abp + l + 1, cdp - l, cdp + l + 1);
}

/**
 * Fooocus `solve_abcd(x, a, b, c, d, k)`: k = 1 is the whole image; otherwise
 * the box grows until both sides reach k·H and k·W. Per iteration: grow rows if `b − a < d − c`,
 * else columns; rows anyway once the columns span W, columns once the rows
 * span H; one pixel on each side, then clip.
 */
export function solveAbcd(height: number, width: number, box: Abcd, k: number): [number, number, number, number] {
  if (!(k >= 0 && k <= 1)) throw new RangeError(`respective field must be in [0, 1], got ${k}`);
  if (k === 1) return [0, height, 0, width];
  let [a, b, c, d] = box;
  while (!(b - a >= height * k && d - c >= width * k)) {
    let addH = b - a < d - c;
    let addW = !addH;
    if (b - a === height) addW = true;
    if (d - c === width) addH = true;
    if (addH) {
      a -= 1;
      b += 1;
    }
    if (addW) {
      c -= 1;
      d += 1;
    }
    [a, b, c, d] = regulate(height, width, a, b, c, d);
  }
  return [a, b, c, d];
}

/** The interested area of a mask for respective field `k` (compute_initial_abcd on mask > 0, then solve_abcd). */
export function interestedArea(mask: Mask, k: number): [number, number, number, number] {
  return solveAbcd(mask.height, mask.width, computeInitialAbcd(mask), k);
}

/** `image[a:b, c:d]` of an HWC image of any channel count. */
export function cropImage<T extends { data: Uint8Array; width: number; height: number; channels: number }>(image: T, box: Abcd): { data: Uint8Array; width: number; height: number; channels: number } {
  const [a, b, c, d] = box;
  const w = d - c;
  const h = b - a;
  const ch = image.channels;
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const from = ((y + a) * image.width + c) * ch;
    out.set(image.data.subarray(from, from + w * ch), y * w * ch);
  }
  return { data: out, width: w, height: h, channels: ch };
}
