/**
 * Control-LoRA: file sorting and the low-rank merge on synthetic files, the
 * output scales and σ activity rule, the denoiser running the ControlNet only
 * on active steps, and on the tiny SDXL base the assembled ControlNet against
 * golden `control.step0.out*` and the UNet control variant (zero residuals =
 * the plain UNet exactly).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/safetensors.ts';
import { writeSafetensorsFile } from '../io/safetensorsWriter.ts';
import { controlOutputScales } from '../graphs/controlNetGraph.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { createUnetDenoiser } from '../pipeline/unetDenoiser.ts';
import { LoadedCheckpoint, type FloatTensor, type UnetCallOptions } from '../runtime/loadedCheckpoint.ts';
import { controlLoraContents, mergeControlLora, readWeightFloat32 } from './controlLoraWeights.ts';
import { pyraCannyHint } from './controlHint.ts';
import { controlSigmaRange, isControlActive, LoadedControlLora, percentToSigma, type ControlNetRunner } from './loadedControlLora.ts';

const dir = mkdtempSync(join(tmpdir(), 'controllora-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (name: string, shape: number[], values: number[]) => ({ name, dtype: 'F32' as const, shape, bytes: () => new Uint8Array(Float32Array.from(values).buffer) });

describe('Control-LoRA file', () => {
  it('rejects a file without the lora_controlnet marker', () => {
    const p = join(dir, 'plain.safetensors');
    writeSafetensorsFile(p, [f32('a.up', [1, 1], [1]), f32('a.down', [1, 1], [1])]);
    const f = openSafetensors(p);
    try {
      expect(() => controlLoraContents(f)).toThrow(/not a Control-LoRA/);
    } finally {
      f.close();
    }
  });

  it('merges W + up.flatten(1) @ down.flatten(1), over a full override when the file has one', async () => {
    const basePath = join(dir, 'base.safetensors');
    writeSafetensorsFile(basePath, [f32('conv.weight', [2, 1, 1, 2], [1, 2, 3, 4]), f32('lin.weight', [1, 2], [10, 20])]);
    const filePath = join(dir, 'cl.safetensors');
    writeSafetensorsFile(filePath, [
      f32('lora_controlnet', [], [0]),
      f32('conv.up', [2, 1, 1, 1], [1, 2]),
      f32('conv.down', [1, 1, 1, 2], [3, 5]),
      f32('lin.weight', [1, 2], [100, 200]),
      f32('lin.up', [1, 1], [2]),
      f32('lin.down', [1, 2], [1, -1]),
      f32('hint.weight', [1], [7]),
    ]);
    const base = openSafetensors(basePath);
    const file = openSafetensors(filePath);
    try {
      const contents = controlLoraContents(file);
      expect(contents.lowRank.sort()).toEqual(['conv', 'lin']);
      expect(contents.full.sort()).toEqual(['hint.weight', 'lin.weight']);
      const shardPath = join(dir, 'shard.safetensors');
      await mergeControlLora({ base: checkpointWeights(base), file, shardPath });
      const shard = checkpointWeights(openSafetensors(shardPath));
      expect(Array.from(readWeightFloat32(shard.ref('conv.weight')))).toEqual([1 + 3, 2 + 5, 3 + 6, 4 + 10]);
      expect(Array.from(readWeightFloat32(shard.ref('lin.weight')))).toEqual([102, 198]);
    } finally {
      base.close();
      file.close();
    }
  });
});

describe('ControlNet application', () => {
  it('scales out_i by 1 − softness·(1 − i/9), then by the strength', () => {
    const s = controlOutputScales(10, 0.25, 1);
    expect(s[0]).toBeCloseTo(0.75, 7);
    expect(s[9]).toBe(1);
    expect(s[3]).toBeCloseTo(1 - 0.25 * (1 - 3 / 9), 7);
    expect(controlOutputScales(10, 0.25, 0.8)[9]).toBeCloseTo(0.8, 7);
  });

  it('is active while σ(stop) ≤ σ ≤ σ(start), as ComfyUI percent_to_sigma', () => {
    const sigmaOf = (t: number) => t / 100;
    expect(percentToSigma(sigmaOf, 0)).toBe(999999999.9);
    expect(percentToSigma(sigmaOf, 1)).toBe(0);
    const range = controlSigmaRange(sigmaOf, 0, 0.5);
    expect(range.sigmaLow).toBeCloseTo(4.995, 9);
    expect(isControlActive(range, 14.6)).toBe(true);
    expect(isControlActive(range, 4.995)).toBe(true);
    expect(isControlActive(range, 4.99)).toBe(false);
  });

  it('runs the ControlNet on the UNet batch of active steps only, and the plain UNet otherwise', async () => {
    const calls: UnetCallOptions[] = [];
    const shape = [1, 4, 2, 2] as const;
    const model = {
      unet: async (x: FloatTensor, _t: Float32Array, _c: FloatTensor, _y: FloatTensor, opts: UnetCallOptions = {}) => {
        calls.push(opts);
        return new Float32Array(x.data.length);
      },
    } as unknown as LoadedCheckpoint;
    const batches: number[] = [];
    const net: ControlNetRunner = {
      residualCount: 2,
      residuals: async (input, scales) => {
        batches.push(input.x.dims[0]);
        return [{ data: Float32Array.of(scales[0]), dims: [1] }, { data: Float32Array.of(scales[1]), dims: [1] }];
      },
    };
    const side = { text: { context: new Float32Array(3), tokens: 1, width: 3 }, adm: { emphasized: new Float32Array(2), consistent: new Float32Array(2) } };
    const denoiser = createUnetDenoiser({
      model,
      modelSampling: { kind: 'discrete_eps', timestep: (s: number) => s * 10, sigma: (t: number) => t / 10 } as never,
      latentShape: shape,
      positive: side,
      negative: side,
      cfg: 4,
      guidance: { kind: 'plain' },
      admSwitchTimestep: 0,
      controls: [{ net, hint: { data: new Float32Array(1), dims: [1] }, strength: 0.5, softness: 0, sigmaHigh: 10, sigmaLow: 2 }],
    });
    await denoiser(new Float64Array(16), 5);
    await denoiser(new Float64Array(16), 1);
    expect(batches).toEqual([2]);
    expect(calls[0].control?.map((t) => t.data[0])).toEqual([0.5, 0.5]);
    expect(calls[1].control).toBeUndefined();
  });
});

const FEATURES = '/work/shared/golden-features';
const haveGolden = existsSync(join(FEATURES, 'cases/controllora_run.safetensors'));

describe.runIf(haveGolden)('Control-LoRA on the tiny SDXL base (golden §10)', () => {
  const cacheDir = join(dir, 'cache');
  const opts = { cacheDir, compute: 'float32' as const, session: { providers: ['cpu'], intraOpThreads: 2 } };
  const baseLoad = LoadedCheckpoint.load(join(FEATURES, '../golden/tiny-sdxl.safetensors'), opts);
  const netLoad = (async () => LoadedControlLora.load(join(FEATURES, 'controlnet/control-lora-tiny-rank4.safetensors'), await baseLoad, opts))();
  const cases = openSafetensors(join(FEATURES, 'cases/controllora_run.safetensors'));
  const tensor = (name: string): FloatTensor => ({ data: cases.float32(name), dims: cases.tensors.get(name)!.shape });
  afterAll(async () => {
    await (await netLoad).close();
    await (await baseLoad).close();
    cases.close();
  });
  const close = (got: Float32Array, want: Float32Array) => {
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) - 1e-4 * Math.abs(want[i]));
    expect(worst).toBeLessThanOrEqual(1e-4);
  };
  const batch = () => {
    const y2 = cases.float32('control.step0.y_in');
    const w = y2.length / 4;
    const y = new Float32Array(2 * w);
    y.set(y2.subarray(0, w), 0); // t = 999 > 699.3: the emphasized half of each row
    y.set(y2.subarray(2 * w, 3 * w), w);
    return { x: tensor('control.step0.x'), timesteps: cases.float32('control.step0.timesteps'), context: tensor('control.step0.context'), y: { data: y, dims: [2, w] } };
  };

  it('assembles the ControlNet whose 10 outputs match control.step0.out*', async () => {
    const net = await netLoad;
    const s = cases.tensors.get('source_u8')!.shape;
    const hint = pyraCannyHint({ data: cases.tensor('source_u8').data as Uint8Array, height: s[0], width: s[1], channels: 3 }, 128, 128);
    const out = await net.residuals({ ...batch(), hint: hint.tensor }, controlOutputScales(10, 0.25, 1));
    expect(out).toHaveLength(10);
    out.forEach((r, i) => close(r.data, cases.float32(`control.step0.out${i}`)));
  }, 120_000);

  it('the control variant with zero residuals is the plain UNet exactly', async () => {
    const model = await baseLoad;
    const net = await netLoad;
    const b = batch();
    const residuals = await net.residuals({ ...b, hint: tensor('control.step0.hint') }, new Float32Array(10));
    const withZero = await model.unet(b.x, b.timesteps, b.context, b.y, { control: residuals });
    const plain = await model.unet(b.x, b.timesteps, b.context, b.y);
    expect(Array.from(withZero)).toEqual(Array.from(plain));
    const size = plain.length / 2;
    close(plain.subarray(size), cases.float32('step0.cond.eps_without_control'));
  }, 120_000);
});
