/**
 * The image-prompt path end to end against golden-features §9: the three
 * files loaded as Fooocus ships them (the adapter a torch zip pickle), the
 * 8-bit image through preprocessing, CLIP vision, Resampler and To_KV, then
 * the base UNet's IP-Adapter variant through `LoadedCheckpoint.unet` for the
 * active and inactive cases; mismatched files refused at load.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { closeness, TINY_CHECKPOINT } from '../graphs/testing/golden.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { clipVisionPixels } from './clipVisionPixels.ts';
import { ipAdapterUnetKv } from './ipAdapterAttention.ts';
import { LoadedIpAdapter, type IpAdapterFiles } from './loadedIpAdapter.ts';

const FEATURES = '/work/shared/golden-features';
const json = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const section = json.cases.ipadapter;
const TOL = json.tolerances.fp32['ipadapter_clip_vision / resampler / ip_k_v'] as { rtol: number; atol: number };
const EPS_TOL = json.tolerances.fp32.ipadapter_eps as { rtol: number; atol: number };
const FILES: IpAdapterFiles = {
  clipVision: join(FEATURES, section.clip_vision),
  ipAdapter: join(FEATURES, section.ip_adapter),
  negative: join(FEATURES, section.ip_negative),
};
const session = { providers: ['cpu' as const], intraOpThreads: 2 };
const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-ipadapter-test-'));
let cases: SafetensorsFile;
let ip: LoadedIpAdapter;
let model: LoadedCheckpoint;

beforeAll(async () => {
  cases = openSafetensors(join(FEATURES, section.file));
  ip = await LoadedIpAdapter.load(FILES, { cacheDir, session });
  model = await LoadedCheckpoint.load(TINY_CHECKPOINT, { cacheDir, compute: 'float32', session });
});
afterAll(async () => {
  await ip?.close();
  await model?.close();
  cases?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

const [H, W] = section.image_hw as [number, number];

describe('clipVisionPixels', () => {
  it('stretches to 224 with Lanczos and normalises exactly as Fooocus (image224_u8, pixel_values)', () => {
    const image = { data: new Uint8Array(cases.bytes('image_u8')), width: W, height: H, channels: 3 };
    const out = clipVisionPixels(image);
    expect(Buffer.from(out.image.data).equals(cases.bytes('image224_u8'))).toBe(true);
    expect(closeness(out.pixels.data, cases.float32('pixel_values'), { rtol: 0, atol: 1e-6 }).failures).toBe(0);
  });

  it('takes RGBA through HWC3 first (alpha over white)', () => {
    const rgba = { data: new Uint8Array([0, 0, 0, 0, 255, 0, 0, 255]), width: 2, height: 1, channels: 4 };
    const out = clipVisionPixels(rgba, 14);
    expect(out.image.data[0]).toBe(255);
    expect(out.pixels.dims).toEqual([1, 3, 14, 14]);
  });
});

describe('LoadedIpAdapter', () => {
  it('encodes the 8-bit image to the golden pixels, penultimate state and tokens', async () => {
    const image = { data: new Uint8Array(cases.bytes('image_u8')), width: W, height: H, channels: 3 };
    const enc = await ip.encode(image);
    expect(closeness(enc.penultimate.data, cases.float32('clip_vision.penultimate'), TOL).failures).toBe(0);
    expect(closeness(enc.tokens.data, cases.float32('resampler.tokens'), TOL).failures).toBe(0);
    expect(closeness(enc.cond.k[0].data, cases.float32('ip_cond.0'), TOL).failures).toBe(0);
    const last = enc.cond.v.length - 1;
    expect(closeness(enc.cond.v[last].data, cases.float32(`ip_cond.${2 * last + 1}`), TOL).failures).toBe(0);
    const neg = await ip.negative();
    expect(closeness(neg.k[0].data, cases.float32('ip_uncond.0'), TOL).failures).toBe(0);
  });

  it('refuses a tower given as the adapter, and negative tokens of the wrong width', async () => {
    await expect(LoadedIpAdapter.load({ ...FILES, ipAdapter: FILES.clipVision }, { cacheDir, session })).rejects.toThrow(CheckpointError);
    await expect(LoadedIpAdapter.load({ ...FILES, negative: FILES.clipVision }, { cacheDir, session })).rejects.toThrow(/data is missing/);
    await expect(LoadedIpAdapter.load({ ...FILES, clipVision: FILES.negative }, { cacheDir, session })).rejects.toThrow(/not a CLIP vision model/);
  });
});

describe('LoadedCheckpoint.unet with ipAdapter', () => {
  const tensor = (name: string) => ({ data: cases.float32(name), dims: cases.info(name).shape });
  const twice = (a: Float32Array, b: Float32Array) => {
    const o = new Float32Array(a.length + b.length);
    o.set(a);
    o.set(b, a.length);
    return o;
  };

  for (const k of section.cases as { name: string; weight: number; stop: number; t: number; active: boolean }[]) {
    it(`${k.name}: eps of [cond, uncond] matches the golden set (${k.active ? 'active' : 'inactive, plain UNet'})`, async () => {
      const image = { data: new Uint8Array(cases.bytes('image_u8')), width: W, height: H, channels: 3 };
      const prompt = await ip.imagePrompt(image, k.weight, k.stop);
      const kv = ipAdapterUnetKv([prompt], k.t, ['cond', 'uncond']);
      expect(kv !== null).toBe(k.active);
      const x = tensor('unet.x');
      const y = tensor('unet.y');
      const eps = await model.unet(
        { data: twice(x.data, x.data), dims: [2, ...x.dims.slice(1)] }, Float32Array.of(k.t, k.t),
        { data: twice(cases.float32('unet.context_cond'), cases.float32('unet.context_uncond')), dims: [2, 77, cases.info('unet.context_cond').shape[2]] },
        { data: twice(y.data, y.data), dims: [2, y.dims[1]] }, { ipAdapter: kv },
      );
      expect(closeness(eps, twice(cases.float32(`${k.name}.eps_cond`), cases.float32(`${k.name}.eps_uncond`)), EPS_TOL).failures).toBe(0);
    });
  }

  it('float16 graphs (adapter and UNet) stay within the fp16 unet_eps tolerance on the active case', async () => {
    const k = (section.cases as { name: string; weight: number; stop: number; t: number; active: boolean }[]).find((c) => c.active)!;
    const ip16 = await LoadedIpAdapter.load(FILES, { cacheDir, session, compute: 'float16' });
    const model16 = await LoadedCheckpoint.load(TINY_CHECKPOINT, { cacheDir, compute: 'float16', session });
    try {
      const image = { data: new Uint8Array(cases.bytes('image_u8')), width: W, height: H, channels: 3 };
      const kv = ipAdapterUnetKv([await ip16.imagePrompt(image, k.weight, k.stop)], k.t, ['cond', 'uncond']);
      const x = tensor('unet.x');
      const y = tensor('unet.y');
      const eps = await model16.unet(
        { data: twice(x.data, x.data), dims: [2, ...x.dims.slice(1)] }, Float32Array.of(k.t, k.t),
        { data: twice(cases.float32('unet.context_cond'), cases.float32('unet.context_uncond')), dims: [2, 77, cases.info('unet.context_cond').shape[2]] },
        { data: twice(y.data, y.data), dims: [2, y.dims[1]] }, { ipAdapter: kv },
      );
      const tol = json.tolerances.fp16.unet_eps as { rtol: number; atol: number };
      expect(closeness(eps, twice(cases.float32(`${k.name}.eps_cond`), cases.float32(`${k.name}.eps_uncond`)), tol).failures).toBe(0);
    } finally {
      await ip16.close();
      await model16.close();
    }
  });

  it('refuses K/V lists that do not cover every attn2 layer', async () => {
    const x = tensor('unet.x');
    const one = { data: new Float32Array(4 * 64), dims: [1, 4, 64] };
    await expect(model.unet(x, Float32Array.of(800), tensor('unet.context_cond'), tensor('unet.y'), { ipAdapter: { k: [one], v: [one] } })).rejects.toThrow(/cross-attention layers/);
  });
});
