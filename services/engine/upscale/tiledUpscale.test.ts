/**
 * perform_upscale's tiling without a network: a fake ×scale model, small
 * tiles, and a direct transcription of ldm_patched `tiled_scale` written here
 * with JavaScript's Array.prototype.slice, whose negative-index rules for a
 * step-1 slice are Python's (start/stop + length when negative, clamped to
 * [0, length], empty when stop ≤ start). The engine's code must agree with
 * it bit for bit, including the narrow tiles whose feather slices wrap.
 */
import { describe, expect, it } from 'vitest';
import { EngineAbortedError, EngineInputError } from '../io/engineErrors.ts';
import { featherMask, pythonSlice, tiledUpscale, tileOrigins, unitToRgb8, type RgbImage, type Tile, type TileModel } from './tiledUpscale.ts';

const f = Math.fround;

/** Python `list[start:stop]` of `range(length)`, by JS slice semantics (identical for step 1). */
const sliceIndices = (start: number, stop: number, length: number) => Array.from({ length }, (_, i) => i).slice(start, stop);

/** The mask as tiled_scale builds it: nested rows, slices by index lists, float32 products in its order. */
function referenceMask(h: number, w: number, feather: number): number[][] {
  const mask = Array.from({ length: h }, () => new Array<number>(w).fill(1));
  for (let t = 0; t < feather; t++) {
    const k = f((1.0 / feather) * (t + 1));
    for (const y of sliceIndices(t, 1 + t, h)) for (let x = 0; x < w; x++) mask[y][x] = f(mask[y][x] * k);
    for (const y of sliceIndices(h - 1 - t, h - t, h)) for (let x = 0; x < w; x++) mask[y][x] = f(mask[y][x] * k);
    for (let y = 0; y < h; y++) for (const x of sliceIndices(t, 1 + t, w)) mask[y][x] = f(mask[y][x] * k);
    for (let y = 0; y < h; y++) for (const x of sliceIndices(w - 1 - t, w - t, w)) mask[y][x] = f(mask[y][x] * k);
  }
  return mask;
}

/** tiled_scale + clamp on a [3][H][W] image with `model` on [3][h][w] tiles; returns [3][H·s][W·s]. */
async function referenceTiledScale(img: number[][][], model: (t: number[][][]) => number[][][], scale: number, tile: number, overlap: number) {
  const H = img[0].length;
  const W = img[0][0].length;
  const OH = H * scale;
  const OW = W * scale;
  const out = Array.from({ length: 3 }, () => Array.from({ length: OH }, () => new Array<number>(OW).fill(0)));
  const div = Array.from({ length: 3 }, () => Array.from({ length: OH }, () => new Array<number>(OW).fill(0)));
  for (let y = 0; y < H; y += tile - overlap) {
    for (let x = 0; x < W; x += tile - overlap) {
      const sIn = img.map((plane) => plane.slice(y, y + tile).map((row) => row.slice(x, x + tile)));
      const ps = model(sIn);
      const mask = referenceMask(ps[0].length, ps[0][0].length, overlap * scale);
      const rows = sliceIndices(y * scale, (y + tile) * scale, OH);
      const cols = sliceIndices(x * scale, (x + tile) * scale, OW);
      for (let c = 0; c < 3; c++) {
        rows.forEach((Y, r) => cols.forEach((X, q) => {
          out[c][Y][X] = f(out[c][Y][X] + f(ps[c][r][q] * mask[r][q]));
          div[c][Y][X] = f(div[c][Y][X] + mask[r][q]);
        }));
      }
    }
  }
  return out.map((plane, c) => plane.map((row, Y) => row.map((v, X) => Math.min(1, Math.max(0, f(v / div[c][Y][X]))))));
}

/**
 * A fake ×2 model whose output depends on the tile's size and position in
 * it (nearest ×2 of the input, shifted by a tile-size term), so a wrong
 * origin, slice or blend changes the result.
 */
function fakeNested(t: number[][][]): number[][][] {
  const h = t[0].length;
  const w = t[0][0].length;
  const bias = f(0.01 * ((h * 7 + w) % 5) - 0.02);
  return t.map((plane, c) => Array.from({ length: 2 * h }, (_, Y) => Array.from({ length: 2 * w }, (_, X) => f(f(plane[Y >> 1][X >> 1] * (1 + 0.1 * c)) + bias))));
}

const fakeModel: TileModel = async (tile: Tile) => {
  const { width: w, height: h, data } = tile;
  const nested = Array.from({ length: 3 }, (_, c) => Array.from({ length: h }, (_, y) => Array.from(data.subarray((c * h + y) * w, (c * h + y + 1) * w))));
  return Float32Array.from(fakeNested(nested).flat(2));
};

function testImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 3) | 0) * 11) % 256;
  return { data, width, height };
}

const toNestedChw = (img: RgbImage) =>
  Array.from({ length: 3 }, (_, c) => Array.from({ length: img.height }, (_, y) => Array.from({ length: img.width }, (_, x) => f(img.data[(y * img.width + x) * 3 + c] / 255))));

const nestedToHwc = (n: number[][][]) => {
  const h = n[0].length;
  const w = n[0][0].length;
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = n[c][y][x];
  return out;
};

describe('pythonSlice', () => {
  it('wraps negative indices and clamps as CPython does', () => {
    expect(pythonSlice(2, 3, 5)).toEqual([2, 3]);
    expect(pythonSlice(4, 5, 5)).toEqual([4, 5]);
    expect(pythonSlice(-1, 0, 5)).toEqual([4, 4]); // [h−1−t : h−t] with t = h: empty
    expect(pythonSlice(-2, -1, 5)).toEqual([3, 4]); // wraps onto row 3
    expect(pythonSlice(-5, -4, 5)).toEqual([0, 1]);
    expect(pythonSlice(-6, -5, 5)).toEqual([0, 0]); // start clamps to 0, stop to 0
    expect(pythonSlice(7, 8, 5)).toEqual([5, 5]);
    expect(pythonSlice(0, 512, 40)).toEqual([0, 40]);
    for (let len = 1; len < 9; len++) {
      for (let a = -12; a < 12; a++) {
        const [from, to] = pythonSlice(a, a + 1, len);
        expect(Array.from({ length: to - from }, (_, i) => from + i)).toEqual(sliceIndices(a, a + 1, len));
      }
    }
  });
});

describe('tileOrigins', () => {
  it('is range(0, size, tile − overlap)', () => {
    expect(tileOrigins(500, 512, 32)).toEqual([0, 480]);
    expect(tileOrigins(480, 512, 32)).toEqual([0]);
    expect(tileOrigins(481, 512, 32)).toEqual([0, 480]);
    expect(tileOrigins(56, 512, 32)).toEqual([0]);
    expect(tileOrigins(1500, 512, 32)).toEqual([0, 480, 960, 1440]);
  });
});

describe('featherMask', () => {
  it('matches tiled_scale on full, narrow and wrapping tiles', () => {
    for (const [h, w, feather] of [[160, 224, 128], [96, 80, 128], [12, 5, 8], [3, 17, 8], [1, 2, 8], [8, 8, 8]]) {
      expect(Array.from(featherMask(h, w, feather))).toEqual(referenceMask(h, w, feather).flat());
    }
  });

  it('multiplies wrapped rows again on an output narrower than the feather', () => {
    // 24-row input tile ×4 = 96 rows, feather 128: rows 64…94 get a second bottom factor (README §4).
    // Column 150 of 300 lies outside both column feathers, so only row factors apply.
    const m = featherMask(96, 300, 128);
    const at = (y: number) => m[y * 300 + 150];
    const k = (t: number) => f((1 / 128) * (t + 1));
    expect(at(95)).toBe(f(k(0) * k(95)));
    expect(at(64)).toBe(f(f(k(31) * k(64)) * k(127)));
    expect(at(94)).toBe(f(f(k(1) * k(94)) * k(97)));
    expect(at(63)).toBe(f(k(32) * k(63)));
  });
});

describe('tiledUpscale', () => {
  it('agrees bit for bit with a direct tiled_scale over several tiles, narrow last tiles included', async () => {
    for (const [w, h] of [[37, 13], [16, 16], [25, 3], [9, 30]]) {
      const img = testImage(w, h);
      let tiles = 0;
      const got = await tiledUpscale(img, fakeModel, { scale: 2, tile: 16, overlap: 4, onTile: (_, total) => (tiles = total) });
      const want = nestedToHwc(await referenceTiledScale(toNestedChw(img), fakeNested, 2, 16, 4));
      expect([got.width, got.height]).toEqual([2 * w, 2 * h]);
      expect(tiles).toBe(tileOrigins(w, 16, 4).length * tileOrigins(h, 16, 4).length);
      expect(Array.from(got.data)).toEqual(Array.from(want));
    }
  });

  it('clamps to [0,1] and converts to 8 bits by truncation', async () => {
    const img = testImage(6, 5);
    const got = await tiledUpscale(img, async (t) => Float32Array.from({ length: t.data.length * 4 }, (_, i) => (i % 3) - 0.5), { scale: 2 });
    expect(new Set(got.data)).toEqual(new Set([0, 0.5, 1]));
    expect(Array.from(unitToRgb8({ data: Float32Array.from([0, 0.5, 0.999, 1, 0.00392, 0.003922]), width: 2, height: 1 }).data)).toEqual([0, 127, 254, 255, 0, 1]);
  });

  it('halves the tile when the model runs out of memory, as Fooocus does', async () => {
    const img = testImage(300, 10);
    const sizes: number[] = [];
    const picky: TileModel = async (t) => {
      sizes.push(t.width);
      if (t.width > 256) throw new Error('Failed to allocate memory for requested buffer of size 123456');
      return fakeModel(t);
    };
    const got = await tiledUpscale(img, picky, { scale: 2 });
    const direct = await tiledUpscale(img, fakeModel, { scale: 2, tile: 256 });
    expect(sizes).toEqual([300, 256, 300 - 224]);
    expect(Array.from(got.data)).toEqual(Array.from(direct.data));
    await expect(tiledUpscale(img, async () => { throw new Error('CUDA out of memory'); }, { scale: 2 })).rejects.toThrow('out of memory');
  });

  it('stops between tiles when the signal is aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    const model: TileModel = async (t) => {
      if (++calls === 2) controller.abort(reason);
      return fakeModel(t);
    };
    // The engine aborts with its typed error (engineThread.ts); that reason is what the caller gets.
    const reason = new EngineAbortedError('stop');
    await expect(tiledUpscale(testImage(40, 8), model, { scale: 2, tile: 16, overlap: 4, signal: controller.signal })).rejects.toBe(reason);
    expect(calls).toBe(2);
  });

  it('refuses pixels that do not match the stated size', async () => {
    await expect(tiledUpscale({ data: new Uint8Array(10), width: 2, height: 2 }, fakeModel, { scale: 2 })).rejects.toBeInstanceOf(EngineInputError);
  });
});
