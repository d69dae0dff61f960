/**
 * Fooocus' inpaint patch (`.fooocus.patch`) as a LoRA-machinery patch kind:
 * read from the golden torch zip pickle, matched by exact UNet keys (weights
 * and biases), merged as W += q/255·(max − min) + min in float32, and a
 * hostile `.patch` refused as an unreadable LoRA without running anything.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectCheckpoint } from '../io/inspectCheckpoint.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { PickleWriter, torchZip } from '../io/testSupport/torchPickleFixtures.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { addFooocusPatch, addPatchDelta, deltaShapeError } from './loraDelta.ts';
import { LoraError } from './loraErrors.ts';
import { matchLora, openLoraFile } from './loraFile.ts';
import { buildLoraKeyMap } from './loraKeyMap.ts';

const FEATURES = '/work/shared/golden-features';
const BASE = join(FEATURES, '../golden/tiny-sdxl.safetensors');
const PATCH = join(FEATURES, 'inpaint/inpaint_tiny.fooocus.patch');
const MODEL_CASES = join(FEATURES, 'cases/inpaint_model.safetensors');

const base = openSafetensors(BASE);
const cases = openSafetensors(MODEL_CASES);
const tmp = mkdtempSync(join(tmpdir(), 'fooocus-patch-'));
afterAll(() => {
  base.close();
  cases.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the golden inpaint patch through the LoRA matcher', () => {
  const keyMap = buildLoraKeyMap(checkpointWeights(base), inspectCheckpoint(BASE));

  it('matches all 71 UNet keys as fooocus patches, weights and biases, nothing unmatched', () => {
    const file = openLoraFile(PATCH);
    try {
      const match = matchLora(file, keyMap);
      expect(match.unmatched).toEqual([]);
      expect(match.patches).toHaveLength(71);
      expect(match.patches.every((p) => p.patch.kind === 'fooocus' && p.target.graph === 'unet')).toBe(true);
      expect(match.patches.some((p) => p.part === 'bias')).toBe(true);
      for (const p of match.patches) {
        const slice = p.part === 'weight' ? p.target.weight : p.target.bias!;
        expect(deltaShapeError(p.patch, slice.shape, (n) => file.shape(n))).toBeNull();
      }
    } finally {
      file.close();
    }
  });

  it('merges the sample keys to the golden merged weights (rtol 1e-5, atol 1e-6)', async () => {
    const file = openLoraFile(PATCH);
    try {
      const match = matchLora(file, keyMap);
      for (const internal of ['diffusion_model.input_blocks.0.0.weight', 'diffusion_model.input_blocks.1.0.in_layers.2.bias']) {
        const part = internal.endsWith('.bias') ? 'bias' : 'weight';
        const weightName = part === 'bias' ? `${internal.slice(0, -'.bias'.length)}.weight` : internal;
        const p = match.patches.find((m) => m.target.internal === weightName && m.part === part)!;
        const slice = part === 'weight' ? p.target.weight : p.target.bias!;
        const w = base.float32(slice.key);
        await addPatchDelta(w, slice.shape, p.patch, 1, (n) => ({ data: file.float32(n), shape: file.shape(n) }));
        const want = cases.float32(`merged.${internal}`);
        for (let i = 0; i < want.length; i++) expect(Math.abs(w[i] - want[i])).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(want[i]));
      }
    } finally {
      file.close();
    }
  });
});

describe('addFooocusPatch', () => {
  it('dequantises q/255 between min and max and scales by the strength', () => {
    const w = Float32Array.of(1, 1, 1);
    addFooocusPatch(w, [0, 255, 51], -1, 1, 0.5);
    expect(Array.from(w)).toEqual([0.5, 1.5, Math.fround(1 + Math.fround(0.5 * Math.fround(Math.fround(Math.fround(51 / 255) * 2) - 1)))]);
  });
});

describe('hostile patch files', () => {
  it('a .fooocus.patch whose pickle calls os.system is refused as an unreadable LoRA, and nothing runs', () => {
    const canary = join(tmp, 'pwned');
    const pickle = new PickleWriter().proto(2).global('os', 'system').mark().str(`touch ${canary}`).tuple().reduce().stop().bytes();
    const path = join(tmp, 'evil.fooocus.patch');
    writeFileSync(path, torchZip('evil.fooocus', pickle, []));
    let error: unknown;
    try {
      openLoraFile(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoraError);
    expect((error as LoraError).loraReason).toBe('unsupported_container');
    expect((error as Error).message).toContain('os.system');
    expect(existsSync(canary)).toBe(false);
  });
});
