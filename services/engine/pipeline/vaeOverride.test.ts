/**
 * job.vae (Fooocus vae_name): a separate VAE file decodes in place of the
 * checkpoint's. The tiny checkpoint's own VAE, written out as a standalone
 * file (and once with its `first_stage_model.` keys), must decode exactly as
 * the built-in one, through LoadedVae and through Engine.generate; a VAE that
 * does not fit fails as a typed CheckpointError before any sampling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { writeSafetensorsFile, type TensorToWrite } from '../io/safetensorsWriter.ts';
import type { TextToImageJob } from '../job.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { LoadedVae } from '../runtime/loadedVae.ts';
import { GOLDEN_DIR, TINY_CHECKPOINT } from '../graphs/testing/golden.ts';

const VAE_PREFIX = 'first_stage_model.';

let dir: string;
let standalone: string;
let prefixed: string;

/** The checkpoint's VAE tensors, renamed by `rename` (null drops a tensor), bytes copied as stored. */
function writeVae(path: string, rename: (key: string) => string | null, override: Record<string, number[]> = {}): string {
  const ckpt = openSafetensors(TINY_CHECKPOINT);
  const tensors: TensorToWrite[] = [];
  for (const t of ckpt.tensors.values()) {
    if (!t.name.startsWith(VAE_PREFIX)) continue;
    const name = rename(t.name.slice(VAE_PREFIX.length));
    if (name === null) continue;
    const shape = override[name];
    const bytes = shape ? new Uint8Array(2 * shape.reduce((a, b) => a * b, 1)) : new Uint8Array(ckpt.bytes(t.name));
    tensors.push({ name, dtype: t.dtype, shape: shape ?? t.shape, bytes: () => bytes });
  }
  ckpt.close();
  writeSafetensorsFile(path, tensors);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vae-override-'));
  standalone = writeVae(join(dir, 'tiny-vae.safetensors'), (k) => k);
  prefixed = writeVae(join(dir, 'tiny-vae-prefixed.safetensors'), (k) => VAE_PREFIX + k);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const loadOptions = () => ({ cacheDir: join(dir, 'cache'), compute: 'float32' as const, session: { providers: ['cpu'] } });

describe('LoadedVae', () => {
  it('decodes and encodes exactly as the checkpoint’s built-in VAE, standalone and prefixed layouts', async () => {
    const model = await LoadedCheckpoint.load(TINY_CHECKPOINT, loadOptions());
    const z = { data: Float32Array.from({ length: 4 * 6 * 5 }, (_, i) => Math.sin(i * 0.37) * 2), dims: [1, 4, 6, 5] };
    const image = { data: Float32Array.from({ length: 3 * 16 * 24 }, (_, i) => Math.cos(i * 0.11)), dims: [1, 3, 16, 24] };
    const want = await model.decode(z);
    const wantMoments = await model.encode(image);
    for (const path of [standalone, prefixed]) {
      const vae = await LoadedVae.load(path, loadOptions());
      expect(vae.prefix).toBe(path === standalone ? '' : VAE_PREFIX);
      const got = await vae.decode(z);
      expect(got.dims).toEqual(want.dims);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
      const moments = await vae.encode(image);
      expect(Buffer.from(moments.data.buffer).equals(Buffer.from(wantMoments.data.buffer))).toBe(true);
      expect(() => vae.assertFits(TINY_CHECKPOINT)).not.toThrow();
      await vae.close();
    }
    await model.close();
  });

  it('refuses a 16-channel (SD3/Flux) VAE with bad_shape', async () => {
    const path = writeVae(join(dir, 'vae16.safetensors'), (k) => k, {
      'encoder.conv_out.weight': [32, 64, 3, 3], 'encoder.conv_out.bias': [32],
      'quant_conv.weight': [32, 32, 1, 1], 'quant_conv.bias': [32],
      'post_quant_conv.weight': [16, 16, 1, 1], 'post_quant_conv.bias': [16],
      'decoder.conv_in.weight': [64, 16, 3, 3],
    });
    const err = await LoadedVae.load(path, loadOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).reason).toBe('bad_shape');
    expect((err as CheckpointError).message).toMatch(/16 channels/);
  });

  it('refuses a file that is not a VAE, and a diffusers-format VAE, by name', async () => {
    const notVae = await LoadedVae.load(join(GOLDEN_DIR, '..', 'golden-features', 'loras', 'tiny-lora-kohya-r4.safetensors'), loadOptions()).catch((e: unknown) => e);
    expect(notVae).toBeInstanceOf(CheckpointError);
    const diffusers = writeVae(join(dir, 'diffusers.safetensors'), (k) => k.replace(/^decoder\.up\./, 'decoder.up_blocks.').replace(/^decoder\.conv_in/, 'decoder.conv_input'));
    const err = await LoadedVae.load(diffusers, loadOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).reason).toBe('unsupported_architecture');
  });
});

describe('Engine with job.vae', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = new Engine({ cacheDir: join(dir, 'engine-cache') });
  });
  afterAll(() => engine.close());

  const job = (over: Partial<TextToImageJob> = {}): TextToImageJob => ({
    checkpoint: TINY_CHECKPOINT,
    positive: ['a lighthouse on a cliff'], negative: ['blurry'],
    width: 64, height: 64, steps: 2, sampler: 'euler', scheduler: 'karras', cfg: 4, seeds: [3n],
    ...over,
  });

  it('gives the same PNG bytes with the extracted VAE as with the built-in one', async () => {
    const [plain] = await engine.generate(job());
    const [viaVae] = await engine.generate(job({ vae: standalone }));
    expect(Buffer.from(viaVae.data).equals(Buffer.from(plain.data))).toBe(true);
  });

  it('fails with a typed CheckpointError when a tensor does not fit the checkpoint’s VAE, before sampling', async () => {
    // Same config (every shape vaeConfig reads is intact), one deep tensor the wrong size.
    const path = writeVae(join(dir, 'vae-wrong-block.safetensors'), (k) => k, { 'decoder.up.0.block.0.conv1.weight': [32, 32, 1, 1] });
    let steps = 0;
    const err = await engine.generate(job({ vae: path }), { onProgress: () => steps++ }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).reason).toBe('bad_shape');
    expect((err as CheckpointError).message).toContain('decoder.up.0.block.0.conv1.weight');
    expect(steps).toBe(0);
  });
});
