// Engine.upscale through EngineHost (the worker thread) with the tiny golden upscaler: the same
// pixels as the upscaler run directly, the resize options applied in the thread, progress per
// tile, abort between tiles with the abort kind preserved, a missing file as a typed error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineHost } from './engineHost.ts';
import { resampleLanczos } from './image/resampleLanczos.ts';
import { setImageShapeCeil } from './image/varyInputImage.ts';
import { CheckpointError, EngineAbortedError, EngineInputError } from './io/engineErrors.ts';
import { LoadedUpscaler } from './upscale/loadedUpscaler.ts';

const shared = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../../shared');
const upscalerPath = join(shared, 'golden-features/upscale_models/tiny_fooocus_upscaler.bin');

const image = (width: number, height: number) => ({
  data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 53 + (i >> 7)) % 256),
  width,
  height,
});

describe('Engine.upscale through EngineHost (tiny golden upscaler, CPU)', () => {
  let cacheDir: string;
  let host: EngineHost;
  let direct: LoadedUpscaler;
  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'engine-upscale-'));
    host = new EngineHost({ cacheDir });
    direct = await LoadedUpscaler.load(upscalerPath, { cacheDir, session: { providers: ['cpu'] } });
  }, 60_000);
  afterAll(async () => {
    await direct?.close();
    await host?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('returns the upscaler’s ×4 pixels unchanged without a resize, with the model scale', async () => {
    const input = image(56, 40);
    const out = await host.upscale(upscalerPath, input);
    const want = await direct.upscale(input);
    expect({ width: out.width, height: out.height, scale: out.scale }).toEqual({ width: 224, height: 160, scale: 4 });
    expect(Buffer.from(out.data).equals(Buffer.from(want.data))).toBe(true);
    expect(out.nsfw).toBeUndefined();
  }, 60_000);

  it('applies the resize in the thread: an exact size (PIL Lanczos) or a shape ceil', async () => {
    const input = image(56, 40);
    const want4x = await direct.upscale(input);
    const sized = await host.upscale(upscalerPath, input, { resize: { width: 112, height: 80 } });
    const wantSized = resampleLanczos({ ...want4x, channels: 3 }, 112, 80);
    expect([sized.width, sized.height]).toEqual([112, 80]);
    expect(Buffer.from(sized.data).equals(Buffer.from(wantSized.data))).toBe(true);
    const ceil = await host.upscale(upscalerPath, input, { resize: { shapeCeil: 1024 } });
    const wantCeil = setImageShapeCeil({ ...want4x, channels: 3 }, 1024);
    expect([ceil.width, ceil.height]).toEqual([wantCeil.width, wantCeil.height]);
    expect(ceil.width % 64).toBe(0);
    expect(Buffer.from(ceil.data).equals(Buffer.from(wantCeil.data))).toBe(true);
  }, 120_000);

  it('reports each tile and stops between tiles when the signal aborts, with the kind preserved', async () => {
    const three = image(1000, 24); // tiles at x = 0, 480, 960
    const all: [number, number][] = [];
    await host.upscale(upscalerPath, three, { onProgress: (p) => all.push([p.tile, p.tiles]) });
    expect(all).toEqual([[1, 3], [2, 3], [3, 3]]);

    // Tiles large enough that the abort message reaches the thread before the last one.
    const input = image(2400, 256); // 5 tiles of 512×256

    const ac = new AbortController();
    const seen: number[] = [];
    const err = await host
      .upscale(upscalerPath, input, {
        signal: ac.signal,
        onProgress: (p) => {
          seen.push(p.tile);
          if (p.tile === 1) ac.abort(new EngineAbortedError('stop'));
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineAbortedError);
    expect((err as EngineAbortedError).kind).toBe('stop');
    expect(seen.length).toBeLessThan(5);

    // An already aborted signal never starts; the host keeps working afterwards.
    const pre = new AbortController();
    pre.abort(new EngineAbortedError('abort'));
    await expect(host.upscale(upscalerPath, image(56, 40), { signal: pre.signal })).rejects.toBeInstanceOf(EngineAbortedError);
    const after = await host.upscale(upscalerPath, image(8, 8));
    expect([after.width, after.height]).toEqual([32, 32]);
  }, 120_000);

  it('passes a missing model file and bad pixels back as typed errors', async () => {
    const missing = await host.upscale(join(cacheDir, 'nope.bin'), image(8, 8)).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(CheckpointError);
    expect((missing as CheckpointError).reason).toBe('not_found');
    const bad = await host.upscale(upscalerPath, { data: new Uint8Array(10), width: 8, height: 8 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(EngineInputError);
  }, 60_000);
});
