/**
 * LoadedUpscaler on the golden-features tiny Fooocus upscaler (README §4):
 * the torch zip pickle with `residual_block_` names, the same tensors as a
 * .safetensors, the golden `small` and `two_tiles_x` cases within the
 * cases.json tolerances, the on-disk graph cache, and typed refusals.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { loadTorchStateDict } from '../io/torchPickle.ts';
import { writeSafetensorsFile } from '../io/safetensorsWriter.ts';
import { writeSafetensors } from '../io/testSupport/writeSafetensors.ts';
import { compareArrays, compareU8 } from '../golden/compare.ts';
import { LoadedUpscaler } from './loadedUpscaler.ts';
import type { RgbImage } from './tiledUpscale.ts';

const FEATURES = '/work/shared/golden-features';
const MODEL = join(FEATURES, 'upscale_models/tiny_fooocus_upscaler.bin');
const session = { providers: ['cpu' as const], intraOpThreads: 2 };

describe('LoadedUpscaler', () => {
  let dir: string;
  let cases: SafetensorsFile;
  let upscaler: LoadedUpscaler;
  const input = (name: string): RgbImage => {
    const [height, width] = cases.info(`${name}.input_u8`).shape;
    return { data: cases.tensor(`${name}.input_u8`).data as Uint8Array, width, height };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'upscaler-test-'));
    cases = openSafetensors(join(FEATURES, 'cases/upscale.safetensors'));
    upscaler = await LoadedUpscaler.load(MODEL, { cacheDir: join(dir, 'cache'), session });
  });

  afterAll(async () => {
    await upscaler?.close();
    cases?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the Fooocus pickle: nf 16, nb 2, gc 32, ×4', () => {
    expect(upscaler.config).toMatchObject({ filters: 16, blocks: 2, growth: 32, scale: 4, inChannels: 3, outChannels: 3 });
    expect(upscaler.compute).toBe('float32');
  });

  it('golden small: output01 within atol 1e-5, output_u8 within 1 LSB on 0.1 %', async () => {
    const out01 = await upscaler.upscaleFloat(input('small'));
    expect([out01.width, out01.height]).toEqual([224, 160]);
    const f = compareArrays(out01.data, cases.float32('small.output01'), { rtol: 0, atol: 1e-5 });
    expect(f.ok, `max abs ${f.maxAbs}`).toBe(true);
    const u8 = await upscaler.upscale(input('small'));
    const c = compareU8(u8.data, cases.tensor('small.output_u8').data as Uint8Array, 1, 0.001);
    expect(c.ok, `max ${c.maxAbs} LSB on ${c.maxRel}`).toBe(true);
  });

  it('golden two_tiles_x: two tiles (x = 0, 480), output_u8 within 1 LSB on 0.1 %', async () => {
    let tiles = 0;
    const u8 = await upscaler.upscale(input('two_tiles_x'), { onTile: (_, total) => (tiles = total) });
    expect([u8.width, u8.height, tiles]).toEqual([2000, 96, 2]);
    const c = compareU8(u8.data, cases.tensor('two_tiles_x.output_u8').data as Uint8Array, 1, 0.001);
    expect(c.ok, `max ${c.maxAbs} LSB on ${c.maxRel}`).toBe(true);
  });

  it('loads the same keys from a .safetensors (any name) and gives the same pixels', async () => {
    const path = join(dir, 'converted-upscaler.model');
    const tensors = loadTorchStateDict(MODEL);
    writeSafetensorsFile(path, [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], bytes: () => t.data })));
    const other = await LoadedUpscaler.load(path, { cacheDir: join(dir, 'cache'), session });
    try {
      expect(other.config).toEqual(upscaler.config);
      expect(other.contentHash).not.toBe(upscaler.contentHash);
      const a = await other.upscaleFloat(input('small'));
      const b = await upscaler.upscaleFloat(input('small'));
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    } finally {
      await other.close();
    }
  });

  it('builds the graph once per model content: a second load reuses the cached graph', async () => {
    const graphsRoot = join(dir, 'cache', 'graphs', upscaler.contentHash.slice(0, 32));
    const [graph] = readdirSync(graphsRoot).filter((d) => d.startsWith('esrgan.'));
    expect(graph).toMatch(/^esrgan\.\d+-float32-v\d+$/);
    const modelPath = join(graphsRoot, graph, 'model.onnx');
    const before = statSync(modelPath).mtimeMs;
    const again = await LoadedUpscaler.load(MODEL, { cacheDir: join(dir, 'cache'), session });
    try {
      const out = await again.upscale({ data: new Uint8Array(4 * 3 * 3).fill(128), width: 4, height: 3 });
      expect([out.width, out.height]).toEqual([16, 12]);
    } finally {
      await again.close();
    }
    expect(statSync(modelPath).mtimeMs).toBe(before);
  });

  it('builds an fp16 graph (GPU compute type) within the fp16 image tolerances (README §11)', async () => {
    const half = await LoadedUpscaler.load(MODEL, { cacheDir: join(dir, 'cache'), compute: 'float16', session });
    try {
      const out01 = await half.upscaleFloat(input('small'));
      const f = compareArrays(out01.data, cases.float32('small.output01'), { rtol: 0, atol: 2e-2 });
      expect(f.ok, `max abs ${f.maxAbs}`).toBe(true);
      const c = compareU8((await half.upscale(input('small'))).data, cases.tensor('small.output_u8').data as Uint8Array, 2, 0.15);
      expect(c.ok, `max ${c.maxAbs} LSB on ${c.maxRel}`).toBe(true);
      expect(readdirSync(join(dir, 'cache', 'graphs', half.contentHash.slice(0, 32))).some((d) => d.includes('-float16-'))).toBe(true);
    } finally {
      await half.close();
    }
  });

  it('refuses a file that is not an ESRGAN with a CheckpointError naming it', async () => {
    const vae = writeSafetensors(join(dir, 'not-an-upscaler.safetensors'), [
      { name: 'decoder.conv_in.weight', dtype: 'F16', shape: [8, 4, 3, 3] },
      { name: 'decoder.conv_in.bias', dtype: 'F16', shape: [8] },
    ]);
    const err = await LoadedUpscaler.load(vae, { cacheDir: join(dir, 'cache'), session }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err).toMatchObject({ file: vae, reason: 'unsupported_architecture' });

    const missing = await LoadedUpscaler.load(join(dir, 'nope.bin'), { cacheDir: join(dir, 'cache'), session }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ reason: 'not_found', file: join(dir, 'nope.bin') });

    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'PK\u0003\u0004 not really a zip');
    await expect(LoadedUpscaler.load(junk, { cacheDir: join(dir, 'cache'), session })).rejects.toBeInstanceOf(CheckpointError);
  });
});
