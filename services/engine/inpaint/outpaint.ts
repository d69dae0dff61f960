/**
 * Outpaint canvas growth (F modules/async_worker.py apply_outpaint; FooocusAPI
 * fooocusapi/worker.py; pipeline.md §3.4, golden-features README §5):
 * top and bottom first, each by `int(H·0.3)` of the ORIGINAL height, then
 * left and right, each by `int(W·0.3)` of the width after that. The image is
 * edge-replicated (np.pad mode 'edge'), the mask padded with 255 (repaint).
 * FooocusAPI's `outpaint_distance_{left,top,right,bottom}`: a value > 0
 * replaces the 30 % for its side (only for selected sides).
 * The caller then forces strength 1.0 and respective field 1.0
 * (OUTPAINT_STRENGTH, OUTPAINT_RESPECTIVE_FIELD).
 */
import type { U8Image } from '../image/resampleLanczos.ts';
import type { Mask } from './maskMorphology.ts';

export type OutpaintSide = 'left' | 'top' | 'right' | 'bottom';

/** Pixels per side; 0 (the default) means Fooocus' 30 %. */
export interface OutpaintDistances {
  left?: number;
  top?: number;
  right?: number;
  bottom?: number;
}

export const OUTPAINT_FRACTION = 0.3;
export const OUTPAINT_STRENGTH = 1.0;
export const OUTPAINT_RESPECTIVE_FIELD = 1.0;

/** Pads an HWC image by edge replication (`fill` null) or with a constant byte. */
function pad(image: U8Image, top: number, bottom: number, left: number, right: number, fill: number | null): U8Image {
  const { width, height, channels: ch } = image;
  const w = width + left + right;
  const h = height + top + bottom;
  const out = new Uint8Array(w * h * ch);
  if (fill !== null) out.fill(fill);
  for (let y = 0; y < h; y++) {
    const sy = y - top;
    if (fill !== null && (sy < 0 || sy >= height)) continue;
    const srcY = Math.min(height - 1, Math.max(0, sy));
    for (let x = 0; x < w; x++) {
      const sx = x - left;
      if (fill !== null && (sx < 0 || sx >= width)) continue;
      const srcX = Math.min(width - 1, Math.max(0, sx));
      const from = (srcY * width + srcX) * ch;
      out.set(image.data.subarray(from, from + ch), (y * w + x) * ch);
    }
  }
  return { data: out, width: w, height: h, channels: ch };
}

/** Fooocus' (or, with `distances`, FooocusAPI's) outpaint padding of image and mask. */
export function applyOutpaint(image: U8Image, mask: Mask, sides: readonly OutpaintSide[], distances: OutpaintDistances = {}): { image: U8Image; mask: Mask } {
  if (mask.width !== image.width || mask.height !== image.height) throw new RangeError('outpaint mask and image sizes differ');
  const has = (s: OutpaintSide) => sides.includes(s);
  const amount = (side: OutpaintSide, size: number) => {
    const d = distances[side] ?? 0;
    return d > 0 ? Math.trunc(d) : Math.trunc(size * OUTPAINT_FRACTION);
  };
  let img = image;
  let m = mask;
  const h0 = image.height;
  const top = has('top') ? amount('top', h0) : 0;
  const bottom = has('bottom') ? amount('bottom', h0) : 0;
  if (top || bottom) {
    img = pad(img, top, bottom, 0, 0, null);
    m = pad(m, top, bottom, 0, 0, 255);
  }
  const w1 = img.width;
  const left = has('left') ? amount('left', w1) : 0;
  const right = has('right') ? amount('right', w1) : 0;
  if (left || right) {
    img = pad(img, 0, 0, left, right, null);
    m = pad(m, 0, 0, left, right, 255);
  }
  return { image: img, mask: m };
}
