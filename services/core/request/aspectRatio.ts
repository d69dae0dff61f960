/**
 * `aspect_ratios_selection` parsing. FooocusAPI rewrites `*` to `×` (U+00D7) before recording the
 * request, and the worker does `replace('×',' ').split(' ')[:2]` then `int()` — so `"W*H"`,
 * `"W×H"` and the UI label `"W×H <span …>"` all work, and anything else fails inside the task.
 * Here a bad value or a size over the pixel limit is a 422 on the field instead.
 */
import { ValidationError } from '../errors.ts';

/** Default pixel budget: 2048 × 2048 (the largest `overwrite_width` × `overwrite_height`). */
export const DEFAULT_MAX_PIXELS = 2048 * 2048;
/** Smallest side accepted: one SDXL latent is 8 px, and Fooocus' smallest preset side is 576. */
export const MIN_SIDE = 64;

export interface AspectRatio {
  width: number;
  height: number;
  /** As recorded in `req_params`: `"{W}×{H}"`. */
  label: string;
}

const ASPECT = /^\s*(\d+)\s*[*×]\s*(\d+)(?:\s.*)?$/s;

/** Parse `"W*H"` / `"W×H"`; null when the string has another shape. */
export function parseAspectRatio(value: string): { width: number; height: number } | null {
  const m = ASPECT.exec(value);
  if (!m) return null;
  return { width: Number(m[1]), height: Number(m[2]) };
}

export interface SizeLimits {
  /** Maximum width × height. Default `DEFAULT_MAX_PIXELS`. */
  maxPixels?: number;
  /** Minimum width and height. Default `MIN_SIDE`. */
  minSide?: number;
}

/** Throws `ValidationError` at `loc` when the size is outside the limits. */
export function checkImageSize(width: number, height: number, loc: (string | number)[], input: unknown, limits: SizeLimits = {}): void {
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = limits.minSide ?? MIN_SIDE;
  if (width < minSide || height < minSide) {
    throw ValidationError.forField(loc, `Width and height must be at least ${minSide} px (got ${width}×${height})`, {
      type: 'image_size',
      input,
      ctx: { min_side: minSide },
    });
  }
  if (width * height > maxPixels) {
    throw ValidationError.forField(
      loc,
      `Image size ${width}×${height} = ${width * height} px is over the limit of ${maxPixels} px`,
      { type: 'image_size', input, ctx: { max_pixels: maxPixels } },
    );
  }
}

/** Parse and check `aspect_ratios_selection`; the label uses `×` as FooocusAPI records it. */
export function resolveAspectRatio(value: string, limits: SizeLimits = {}): AspectRatio {
  const parsed = parseAspectRatio(value);
  if (!parsed) {
    throw ValidationError.forField(
      ['aspect_ratios_selection'],
      'Aspect ratio must look like "W*H" or "W×H" with whole pixel numbers, e.g. "1152*896"',
      { type: 'aspect_ratio_format', input: value },
    );
  }
  checkImageSize(parsed.width, parsed.height, ['aspect_ratios_selection'], value, limits);
  return { ...parsed, label: `${parsed.width}×${parsed.height}` };
}
