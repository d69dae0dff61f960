// Fooocus inpaint through EngineHost (the worker thread) with the tiny golden checkpoint,
// upscaler, inpaint head and patch: prepareInpaint gives the same crop, fill and masks as the
// preparation run directly (with the ESRGAN for a small crop), null when Fooocus would not
// inpaint, the padded canvas for an outpaint; generate with `job.inpaint` returns the canvas
// size with the pixels far from the mask untouched, progress per step, and the head and patch
// change the picture; inconsistent jobs are EngineInputErrors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineHost } from './engineHost.ts';
import { prepareInpaintCanvas } from './inpaint/prepareInpaintCanvas.ts';
import { EngineInputError } from './io/engineErrors.ts';
import type { InpaintPrepareRequest, PreparedInpaint, TextToImageJob } from './job.ts';
import { LoadedUpscaler } from './upscale/loadedUpscaler.ts';

const shared = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../../shared');
const checkpoint = join(shared, 'golden/tiny-sdxl.safetensors');
const upscalerPath = join(shared, 'golden-features/upscale_models/tiny_fooocus_upscaler.bin');
const headPath = join(shared, 'golden-features/inpaint/fooocus_inpaint_head_tiny.pth');
const patchPath = join(shared, 'golden-features/inpaint/inpaint_tiny.fooocus.patch');

const W = 128;
const H = 96;
/** Repaint columns 24..40, rows 16..32. */
const BOX = { x0: 24, x1: 40, y0: 16, y1: 32 };

function request(over: Partial<InpaintPrepareRequest> = {}): InpaintPrepareRequest {
  const data = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 53 + (i >> 6)) % 256);
  const mask = new Uint8Array(W * H);
  for (let y = BOX.y0; y < BOX.y1; y++) for (let x = BOX.x0; x < BOX.x1; x++) mask[y * W + x] = 255;
  return { image: { data, width: W, height: H, channels: 3 }, mask, respectiveField: 0.618, denoise: 1, upscalerPath, ...over };
}

const job = (prepared: PreparedInpaint, over: Partial<TextToImageJob['inpaint']> = {}): TextToImageJob => ({
  checkpoint,
  positive: ['a red ball'],
  negative: [''],
  width: prepared.image.width,
  height: prepared.image.height,
  steps: 2,
  sampler: 'euler',
  scheduler: 'karras',
  cfg: 4,
  seeds: [11n],
  inpaint: { prepared, headPath, patchPath, denoise: 1, syntheticSwitchStep: 1, ...over },
});

describe('Fooocus inpaint through EngineHost (tiny golden models, CPU)', () => {
  let cacheDir: string;
  let host: EngineHost;
  let prepared: PreparedInpaint;
  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'engine-inpaint-'));
    host = new EngineHost({ cacheDir });
  }, 60_000);
  afterAll(async () => {
    await host?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('prepareInpaint in the thread equals the preparation run directly, the small crop ESRGAN-upscaled to shape ceil 1024', async () => {
    prepared = (await host.prepareInpaint(request()))!;
    const direct = await LoadedUpscaler.load(upscalerPath, { cacheDir, session: { providers: ['cpu'] } });
    try {
      let upscaled = 0;
      const want = (await prepareInpaintCanvas(request(), {
        upscale: async (crop) => {
          upscaled++;
          const out = await direct.upscale(crop);
          return { ...out, channels: 3 };
        },
      }))!;
      expect(upscaled).toBe(1);
      expect(prepared.area).toEqual(want.area);
      expect([prepared.image.width, prepared.image.height]).toEqual([want.image.width, want.image.height]);
      expect(Math.sqrt(prepared.image.width * prepared.image.height)).toBeGreaterThanOrEqual(960);
      expect(Buffer.from(prepared.image.data).equals(Buffer.from(want.image.data))).toBe(true);
      expect(Buffer.from(prepared.fill).equals(Buffer.from(want.fill))).toBe(true);
      expect(Buffer.from(prepared.mask).equals(Buffer.from(want.mask))).toBe(true);
      expect(Buffer.from(prepared.softMask).equals(Buffer.from(want.softMask))).toBe(true);
      expect([prepared.original.width, prepared.original.height]).toEqual([W, H]);
    } finally {
      await direct.close();
    }
  }, 120_000);

  it('null when no mask pixel is > 127 and nothing is outpainted (Fooocus runs text-to-image); an outpaint pads the canvas', async () => {
    expect(await host.prepareInpaint(request({ mask: new Uint8Array(W * H).fill(127) }))).toBeNull();
    // Inverting an empty mask repaints everything.
    expect(await host.prepareInpaint(request({ mask: new Uint8Array(W * H), invert: true }))).not.toBeNull();
    const top = await host.prepareInpaint(request({ mask: new Uint8Array(W * H), outpaint: { sides: ['top'] }, respectiveField: 1 }));
    expect([top!.original.width, top!.original.height]).toEqual([W, H + Math.trunc(H * 0.3)]);
    expect(top!.area).toEqual([0, H + Math.trunc(H * 0.3), 0, W]);
  }, 120_000);

  it('generate with job.inpaint returns the canvas size, the input far from the mask, progress per step; head and patch matter', async () => {
    const steps: number[] = [];
    const [img] = await host.generate(job(prepared), { onProgress: (p) => steps.push(p.step) });
    expect(steps).toEqual([1, 2]);
    const { data, info } = await sharp(Buffer.from(img.data)).raw().toBuffer({ resolveWithObject: true });
    expect([img.width, img.height, info.width, info.height, info.channels]).toEqual([W, H, W, H, 3]);
    const input = request().image.data;
    let far = 0;
    let changedInside = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const d = Math.max(BOX.x0 - x, x - (BOX.x1 - 1), BOX.y0 - y, y - (BOX.y1 - 1), 0);
        const i = (y * W + x) * 3;
        const same = data[i] === input[i] && data[i + 1] === input[i + 1] && data[i + 2] === input[i + 2];
        if (d > 33) {
          far++;
          expect(same, `pixel ${x},${y}`).toBe(true);
        } else if (d === 0 && !same) changedInside++;
      }
    }
    expect(far).toBeGreaterThan(0);
    expect(changedInside).toBeGreaterThan(BOX.x1 - BOX.x0);
    // Inpaint engine None: no head, no patch, no synthetic refiner — another picture.
    const [plain] = await host.generate(job(prepared, { headPath: null, patchPath: null }));
    expect(Buffer.from(plain.data).equals(Buffer.from(img.data))).toBe(false);
  }, 240_000);

  it('refuses an inpaint job whose size is not the crop, or a head without its patch', async () => {
    await expect(host.generate({ ...job(prepared), width: prepared.image.width + 8 })).rejects.toBeInstanceOf(EngineInputError);
    await expect(host.generate(job(prepared, { patchPath: null }))).rejects.toBeInstanceOf(EngineInputError);
    await expect(host.prepareInpaint(request({ denoise: 0 }))).rejects.toBeInstanceOf(EngineInputError);
  }, 60_000);
});
