/**
 * Fooocus's perform_upscale around any ×scale model (F modules/upscaler.py →
 * ldm_patched/contrib/external_upscale_model.py → ldm_patched/modules/utils.py
 * `tiled_scale`), reproduced step by step because its quirks show in the
 * pixels:
 *
 *  - u8 HWC → float32 `u/255`, tiles of `tile` px at origins
 *    `range(0, size, tile − overlap)` per axis (the last tiles are narrower);
 *  - every tile output is weighted by a feather mask: ones, then for
 *    t = 0 … feather−1 (feather = overlap·scale) the slices `[t:t+1]` and
 *    `[h−1−t : h−t]` of rows, then the same of columns, are multiplied by
 *    `(t+1)/feather`. These are Python slices: for an output narrower than
 *    the feather, `h−1−t` goes negative and wraps, so some rows and columns
 *    are multiplied again (golden-features README §4). `pythonSlice` does
 *    exactly what CPython does;
 *  - result = Σ tile·mask / Σ mask (float32 accumulations in tile order),
 *    clamp to [0,1];
 *  - u8 = truncation of float32 `255·x` (F modules/core.py pytorch_to_numpy).
 *
 * The model call is injected, so the arithmetic is testable without one.
 * Fooocus halves the tile on out-of-memory and retries (down to 128); so
 * does `tiledUpscale` when the model call throws an allocation failure.
 */
import { EngineAbortedError, EngineInputError } from '../io/engineErrors.ts';

export const UPSCALE_TILE = 512;
export const UPSCALE_OVERLAP = 32;
/** Fooocus gives up below this tile size after repeated OOMs. */
export const UPSCALE_MIN_TILE = 128;

/** An 8-bit RGB image, rows of `width` HWC pixels. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A float HWC RGB image (values in [0,1] after perform_upscale). */
export interface FloatRgbImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** One tile: CHW float32 (3 × height × width). */
export interface Tile {
  data: Float32Array;
  width: number;
  height: number;
}

/** Runs the model on one tile; returns CHW float32 of (height·scale) × (width·scale). */
export type TileModel = (tile: Tile) => Promise<Float32Array>;

export interface TiledUpscaleOptions {
  scale: number;
  /** Tile side in input pixels; default 512 (Fooocus). */
  tile?: number;
  /** Overlap in input pixels; default 32 (Fooocus). */
  overlap?: number;
  /** Checked before every tile. */
  signal?: AbortSignal;
  /** Called after each tile with (done, total). */
  onTile?: (done: number, total: number) => void;
}

/** CPython's slice(start, stop).indices(length) for step 1, as a half-open [from, to) with to ≥ from. */
export function pythonSlice(start: number, stop: number, length: number): [number, number] {
  const norm = (i: number) => {
    if (i < 0) i += length;
    return i < 0 ? 0 : i > length ? length : i;
  };
  const from = norm(start);
  const to = norm(stop);
  return [from, Math.max(from, to)];
}

/** `range(0, size, step)`. */
export function tileOrigins(size: number, tile: number, overlap: number): number[] {
  const step = tile - overlap;
  if (!(step > 0)) throw new RangeError(`tile ${tile} must exceed overlap ${overlap}`);
  const out: number[] = [];
  for (let o = 0; o < size; o += step) out.push(o);
  return out;
}

/** The feather mask of a tile output (height × width, row-major), float32 as torch computes it, in its operation order. */
export function featherMask(height: number, width: number, feather: number): Float32Array {
  const mask = new Float32Array(height * width).fill(1);
  const rows = ([from, to]: [number, number], f: number) => {
    for (let y = from; y < to; y++) for (let x = 0; x < width; x++) mask[y * width + x] *= f;
  };
  const cols = ([from, to]: [number, number], f: number) => {
    for (let y = 0; y < height; y++) for (let x = from; x < to; x++) mask[y * width + x] *= f;
  };
  for (let t = 0; t < feather; t++) {
    // torch multiplies a float32 tensor by the Python float cast to float32.
    const f = Math.fround((1.0 / feather) * (t + 1));
    rows(pythonSlice(t, t + 1, height), f);
    rows(pythonSlice(height - 1 - t, height - t, height), f);
    cols(pythonSlice(t, t + 1, width), f);
    cols(pythonSlice(width - 1 - t, width - t, width), f);
  }
  return mask;
}

/** u8 HWC → float32 CHW `u/255` (F modules/core.py numpy_to_pytorch). */
export function rgbToUnitChw(image: RgbImage): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * 3 + c] / 255;
  return out;
}

/** float [0,1] HWC → u8 by truncation of float32 255·x (F modules/core.py pytorch_to_numpy). */
export function unitToRgb8(image: FloatRgbImage): RgbImage {
  const out = new Uint8Array(image.data.length);
  for (let i = 0; i < out.length; i++) {
    const s = Math.fround(255 * image.data[i]);
    out[i] = s >= 255 ? 255 : s <= 0 ? 0 : Math.trunc(s);
  }
  return { data: out, width: image.width, height: image.height };
}

/** Thrown by a TileModel (or recognised from ORT's message) when a tile does not fit in memory. */
export function isOutOfMemory(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /out of memory|failed to allocate|bad_alloc|CUDNN_STATUS_ALLOC_FAILED|CUBLAS_STATUS_ALLOC_FAILED/i.test(msg);
}

/**
 * perform_upscale's float result: tiles through `model`, feathered, blended,
 * clamped to [0,1]; HWC float32 of (height·scale) × (width·scale).
 */
export async function tiledUpscale(image: RgbImage, model: TileModel, opts: TiledUpscaleOptions): Promise<FloatRgbImage> {
  assertRgb(image);
  const input = rgbToUnitChw(image);
  let tile = opts.tile ?? UPSCALE_TILE;
  const overlap = opts.overlap ?? UPSCALE_OVERLAP;
  for (;;) {
    try {
      return await blendTiles(input, image.width, image.height, model, { ...opts, tile, overlap });
    } catch (e) {
      if (!isOutOfMemory(e)) throw e;
      // F external_upscale_model.py: halve the tile on OOM, give up below 128.
      tile = Math.floor(tile / 2);
      if (tile < UPSCALE_MIN_TILE || tile <= overlap) throw e;
    }
  }
}

async function blendTiles(
  input: Float32Array,
  W: number,
  H: number,
  model: TileModel,
  opts: TiledUpscaleOptions & { tile: number; overlap: number },
): Promise<FloatRgbImage> {
  const { scale, tile, overlap } = opts;
  const outW = Math.round(W * scale);
  const outH = Math.round(H * scale);
  const feather = Math.round(overlap * scale);
  const acc = new Float32Array(outW * outH * 3);
  const div = new Float32Array(outW * outH);
  const masks = new Map<string, Float32Array>();
  const ys = tileOrigins(H, tile, overlap);
  const xs = tileOrigins(W, tile, overlap);
  const total = ys.length * xs.length;
  let done = 0;
  for (const y of ys) {
    for (const x of xs) {
      throwIfAborted(opts.signal);
      const [y0, y1] = pythonSlice(y, y + tile, H);
      const [x0, x1] = pythonSlice(x, x + tile, W);
      const th = y1 - y0;
      const tw = x1 - x0;
      const tileData = new Float32Array(3 * th * tw);
      for (let c = 0; c < 3; c++) {
        for (let r = 0; r < th; r++) {
          const src = c * H * W + (y0 + r) * W + x0;
          tileData.set(input.subarray(src, src + tw), (c * th + r) * tw);
        }
      }
      const ps = await model({ data: tileData, width: tw, height: th });
      const ph = Math.round(th * scale);
      const pw = Math.round(tw * scale);
      if (ps.length !== 3 * ph * pw) throw new Error(`upscaler gave ${ps.length} values for a ${tw}×${th} tile, expected 3×${ph}×${pw}`);
      const key = `${ph}x${pw}`;
      let mask = masks.get(key);
      if (!mask) masks.set(key, (mask = featherMask(ph, pw, feather)));
      // out[:, :, round(y·s):round((y+tile)·s), …] += ps·mask; the slice clips to the output.
      const [oy0, oy1] = pythonSlice(Math.round(y * scale), Math.round((y + tile) * scale), outH);
      const [ox0, ox1] = pythonSlice(Math.round(x * scale), Math.round((x + tile) * scale), outW);
      if (oy1 - oy0 !== ph || ox1 - ox0 !== pw) throw new Error(`tile output ${pw}×${ph} does not fit its ${ox1 - ox0}×${oy1 - oy0} place`);
      for (let r = 0; r < ph; r++) {
        for (let q = 0; q < pw; q++) {
          const m = mask[r * pw + q];
          const o = (oy0 + r) * outW + ox0 + q;
          for (let c = 0; c < 3; c++) acc[o * 3 + c] += Math.fround(ps[(c * ph + r) * pw + q] * m);
          div[o] += m;
        }
      }
      opts.onTile?.(++done, total);
    }
  }
  const out = new Float32Array(acc.length);
  for (let o = 0; o < div.length; o++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.fround(acc[o * 3 + c] / div[o]);
      out[o * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { data: out, width: outW, height: outH };
}

function assertRgb(image: RgbImage): void {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new EngineInputError(`upscale: bad image size ${width}×${height}`);
  if (data.length !== width * height * 3) throw new EngineInputError(`upscale: ${data.length} bytes for a ${width}×${height} RGB image (expected ${width * height * 3})`);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new EngineAbortedError();
}
