// Fooocus image prompts through EngineHost (the worker thread) with the tiny golden checkpoint,
// the tiny IP-Adapter Plus files and the tiny canny Control-LoRA: an ImagePrompt, a PyraCanny
// and a CPDS slot each change the picture against the same job without them, the same job
// twice gives the same bytes (the kept preprocessing is the same as a fresh one), a stop of 0
// leaves the picture as without the slot, image prompts mix with inpaint, and inconsistent
// tasks are EngineInputErrors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineHost } from './engineHost.ts';
import { EngineInputError } from './io/engineErrors.ts';
import type { ImagePromptTasks, PixelImage, PreparedInpaint, TextToImageJob } from './job.ts';

const shared = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../../shared');
const checkpoint = join(shared, 'golden/tiny-sdxl.safetensors');
const features = join(shared, 'golden-features');
const ipAdapter = {
  clipVision: join(features, 'ipadapter/clip_vision_tiny.safetensors'),
  ipAdapter: join(features, 'ipadapter/ip-adapter-plus_tiny.bin'),
  negative: join(features, 'ipadapter/fooocus_ip_negative_tiny.safetensors'),
};
const controlLora = join(features, 'controlnet/control-lora-tiny-rank4.safetensors');

const W = 64;
const H = 64;
/** A 48×40 picture with strong edges (stripes and a box), three channels. */
const source: PixelImage = (() => {
  const w = 48;
  const h = 40;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const box = x > 12 && x < 36 && y > 10 && y < 30;
      const v = box ? 230 : (x >> 2) % 2 ? 200 : 30;
      data.set([v, box ? 40 : v, (x * 5 + y * 3) % 256], (y * w + x) * 3);
    }
  }
  return { data, width: w, height: h, channels: 3 };
})();

const job = (imagePromptTasks?: ImagePromptTasks): TextToImageJob => ({
  checkpoint,
  positive: ['a red ball'],
  negative: [''],
  width: W,
  height: H,
  steps: 2,
  sampler: 'euler',
  scheduler: 'karras',
  cfg: 4,
  seeds: [5n],
  ...(imagePromptTasks ? { imagePromptTasks } : {}),
});

async function pixels(png: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).removeAlpha().raw().toBuffer());
}

describe('Fooocus image prompts through EngineHost (tiny golden models, CPU)', () => {
  let cacheDir: string;
  let host: EngineHost;
  let plain: Uint8Array;
  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'engine-image-prompt-'));
    host = new EngineHost({ cacheDir });
    plain = await pixels((await host.generate(job()))[0].data);
  }, 120_000);
  afterAll(async () => {
    await host?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('an ImagePrompt slot (IP-Adapter Plus) changes the picture; the same job again gives the same bytes', async () => {
    const tasks: ImagePromptTasks = { slots: [{ type: 'ImagePrompt', image: source, stop: 1, weight: 2 }], ipAdapter };
    const [first] = await host.generate(job(tasks));
    expect([first.width, first.height]).toEqual([W, H]);
    const got = await pixels(first.data);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(plain))).not.toBe(0);
    const [again] = await host.generate(job(tasks));
    expect(Buffer.from(again.data).equals(Buffer.from(first.data))).toBe(true);
  }, 180_000);

  it('a PyraCanny and a CPDS slot (Control-LoRA) change the picture; stop 0 is as without the slot', async () => {
    for (const type of ['PyraCanny', 'CPDS'] as const) {
      const tasks: ImagePromptTasks = { slots: [{ type, image: source, stop: 1, weight: 2 }], pyraCanny: controlLora, cpds: controlLora, softness: 0 };
      const got = await pixels((await host.generate(job(tasks)))[0].data);
      expect(Buffer.compare(Buffer.from(got), Buffer.from(plain)), type).not.toBe(0);
    }
    const stopped: ImagePromptTasks = { slots: [{ type: 'PyraCanny', image: source, stop: 0, weight: 2 }], pyraCanny: controlLora };
    expect(Buffer.from(await pixels((await host.generate(job(stopped)))[0].data)).equals(Buffer.from(plain))).toBe(true);
  }, 300_000);

  it('mixes with inpaint: the image prompt changes the inpainted canvas', async () => {
    // A prepared 64×64 crop that is the whole canvas (the preparation itself is engineInpaint.test.ts').
    const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 53 + (i >> 6)) % 256);
    const mask = new Uint8Array(W * H);
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) mask[y * W + x] = 255;
    const image = { data: rgb, width: W, height: H, channels: 3 };
    const prepared: PreparedInpaint = { area: [0, H, 0, W], image, mask, fill: rgb, original: image, softMask: mask };
    const inpaintJob = (tasks?: ImagePromptTasks): TextToImageJob => ({
      ...job(tasks),
      width: prepared.image.width,
      height: prepared.image.height,
      inpaint: { prepared, headPath: null, patchPath: null, denoise: 1, syntheticSwitchStep: 1 },
    });
    const without = await host.generate(inpaintJob());
    const withIp = await host.generate(inpaintJob({ slots: [{ type: 'PyraCanny', image: source, stop: 1, weight: 2 }], pyraCanny: controlLora, softness: 0 }));
    expect([withIp[0].width, withIp[0].height]).toEqual([W, H]);
    expect(Buffer.from(withIp[0].data).equals(Buffer.from(without[0].data))).toBe(false);
  }, 300_000);

  it('refuses a slot without its model files, a stop outside 0..1 and a wrong image size as EngineInputErrors', async () => {
    await expect(host.generate(job({ slots: [{ type: 'ImagePrompt', image: source, stop: 0.5, weight: 1 }] }))).rejects.toThrow(EngineInputError);
    await expect(host.generate(job({ slots: [{ type: 'CPDS', image: source, stop: 0.5, weight: 1 }], pyraCanny: controlLora }))).rejects.toThrow(/CPDS/);
    await expect(host.generate(job({ slots: [{ type: 'PyraCanny', image: source, stop: 1.5, weight: 1 }], pyraCanny: controlLora }))).rejects.toThrow(/stop/);
    const bad = { ...source, data: source.data.subarray(1) };
    await expect(host.generate(job({ slots: [{ type: 'PyraCanny', image: bad, stop: 0.5, weight: 1 }], pyraCanny: controlLora }))).rejects.toThrow(EngineInputError);
  }, 60_000);
});
