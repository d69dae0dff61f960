/**
 * The refiner (refiner.ts): who evaluates which step under each swap method
 * (stub denoisers, so the schedule itself is what is checked), the refiner's
 * conditioning from the base's, job validation, and whole runs through
 * Engine.generate on the tiny base + refiner, where the joint run must give
 * the golden-features image (README §2, `refiner_joint_run`) and an SDXL
 * base used as its own refiner (another file) the plain run's image.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdxlRefinerAdm } from '../conditioning/admConditioning.ts';
import { discreteEpsSampling } from '../diffusion/modelSampling.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import type { Denoiser, Latent } from '../diffusion/types.ts';
import { Engine } from '../engine.ts';
import { compareU8 } from '../golden/compare.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import type { TextToImageJob } from '../job.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { TINY_CHECKPOINT } from '../graphs/testing/golden.ts';
import type { TextConditioning } from './encodePrompt.ts';
import { REFINER_AESTHETIC_SCORE, refinerConditioning, sampleWithRefiner, validateRefinerJob } from './refiner.ts';
import type { SideConditioning } from './unetDenoiser.ts';

const FEATURES = '/work/shared/golden-features';
const featuresJson = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const section = featuresJson.cases.refiner;
const REFINER = join(FEATURES, section.checkpoint);

const SIGMAS = Float64Array.of(14.6, 6.1, 2.2, 0.69, 0.17, 0.029, 0);

/** A denoiser that records (name, σ) and returns 0.9·x + tag (distinct per model, deterministic). */
function stub(name: string, log: string[], tag: number): Denoiser {
  return async (x, sigma) => {
    log.push(`${name}@${sigma}`);
    return Float64Array.from(x, (v) => 0.9 * v + tag);
  };
}

async function euler(d: Denoiser, x: Latent, sigmas: Float64Array): Promise<Latent> {
  return resolveSampler('euler').run(d, x, sigmas, { model: discreteEpsSampling() });
}

describe('sampleWithRefiner', () => {
  const ms = discreteEpsSampling();
  const xInit = Float64Array.of(1, -2, 3, 0.5);

  it('joint: the base runs steps 0…switch, the refiner the rest, and the result is one continuous run', async () => {
    const log: string[] = [];
    const steps: number[] = [];
    const out = await sampleWithRefiner({
      sampler: resolveSampler('euler'), base: stub('base', log, 1), refiner: stub('refiner', log, 2), method: 'joint', switchStep: 3,
      sigmas: SIGMAS, xInit, modelSampling: ms, onStep: (info) => void steps.push(info.i),
    });
    expect(log).toEqual([...[0, 1, 2, 3].map((i) => `base@${SIGMAS[i]}`), ...[4, 5].map((i) => `refiner@${SIGMAS[i]}`)]);
    expect(steps).toEqual([0, 1, 2, 3, 4, 5]);
    // Same as Euler over one denoiser that switches at σ4.
    const manual = await euler(async (x, s) => Float64Array.from(x, (v) => 0.9 * v + (s <= SIGMAS[4] ? 2 : 1)), xInit, SIGMAS);
    expect(Array.from(out)).toEqual(Array.from(manual));
  });

  it('joint with a two-evaluation sampler: the swap comes at the callback, so step switch’s second evaluation is the refiner’s (as in Fooocus)', async () => {
    const log: string[] = [];
    await sampleWithRefiner({
      sampler: resolveSampler('heun'), base: stub('base', log, 1), refiner: stub('refiner', log, 2), method: 'joint', switchStep: 1,
      sigmas: SIGMAS.slice(3), xInit, modelSampling: ms,
    });
    // heun step i: D(σi), callback, D(σi+1) (skipped into σ = 0).
    expect(log).toEqual(['base@0.69', 'base@0.17', 'base@0.17', 'refiner@0.029', 'refiner@0.029']);
  });

  it('separate: the base runs sigmas[0..switch], the refiner sigmas[switch..] from that output with no added noise; progress stays continuous', async () => {
    const log: string[] = [];
    const steps: number[] = [];
    const out = await sampleWithRefiner({
      sampler: resolveSampler('euler'), base: stub('base', log, 1), refiner: stub('refiner', log, 2), method: 'separate', switchStep: 3,
      sigmas: SIGMAS, xInit, modelSampling: ms, onStep: (info) => void steps.push(info.i),
    });
    expect(log).toEqual([...[0, 1, 2].map((i) => `base@${SIGMAS[i]}`), ...[3, 4, 5].map((i) => `refiner@${SIGMAS[i]}`)]);
    expect(steps).toEqual([0, 1, 2, 3, 4, 5]);
    const mid = await euler(stub('b', [], 1), xInit, SIGMAS.slice(0, 4));
    const want = await euler(stub('r', [], 2), mid, SIGMAS.slice(3));
    expect(Array.from(out)).toEqual(Array.from(want));
  });

  it('separate keeps one noise stream across both runs (Fooocus: "Noise preserved")', async () => {
    // Draw k is the constant 0.1·k: a restarted stream would repeat draw 1 in the refiner's run.
    const stream = () => {
      let k = 0;
      return Object.assign(() => Float64Array.from(xInit, () => 0.1 * ++k / xInit.length), { count: () => k / xInit.length });
    };
    const ancestral = resolveSampler('euler_ancestral');
    const noise = stream();
    const out = await sampleWithRefiner({ sampler: ancestral, base: stub('base', [], 1), refiner: stub('refiner', [], 2), sigmas: SIGMAS, xInit, modelSampling: ms, noise, method: 'separate', switchStep: 3 });
    const shared = stream();
    const mid = await ancestral.run(stub('b', [], 1), xInit, SIGMAS.slice(0, 4), { model: ms, noise: shared });
    const want = await ancestral.run(stub('r', [], 2), mid, SIGMAS.slice(3), { model: ms, noise: shared });
    expect(Array.from(out)).toEqual(Array.from(want));
    // One draw per step into σ > 0, numbered across the two runs.
    expect(noise.count()).toBe(SIGMAS.length - 2);
  });

  it('separate at switch 0 runs only the refiner, at switch = steps only the base', async () => {
    for (const [switchStep, want] of [[0, 'refiner'], [6, 'base']] as const) {
      const log: string[] = [];
      await sampleWithRefiner({ sampler: resolveSampler('euler'), base: stub('base', log, 1), refiner: stub('refiner', log, 2), method: 'separate', switchStep, sigmas: SIGMAS, xInit, modelSampling: ms });
      expect(new Set(log.map((l) => l.split('@')[0]))).toEqual(new Set([want]));
      expect(log).toHaveLength(6);
    }
  });
});

describe('refinerConditioning and validateRefinerJob', () => {
  let refiner: LoadedCheckpoint;
  let base: LoadedCheckpoint;
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'refiner-cond-'));
    const opts = { cacheDir, compute: 'float32' as const, session: { providers: ['cpu'] } };
    refiner = await LoadedCheckpoint.load(REFINER, opts);
    base = await LoadedCheckpoint.load(TINY_CHECKPOINT, opts);
  });
  afterAll(async () => {
    await refiner.close();
    await base.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const baseText = (width: number, pooled: number, tokens = 154): TextConditioning => ({
    context: Float32Array.from({ length: tokens * width }, (_, i) => i),
    tokens, width, pooled: Float32Array.from({ length: pooled }, (_, i) => Math.sin(i)),
  });
  const baseSide = (text: TextConditioning): SideConditioning => ({ text, adm: { emphasized: new Float32Array(base.inspection.unet.admInChannels!), consistent: new Float32Array(base.inspection.unet.admInChannels!) } });

  it('an SDXL refiner gets the last context_dim channels of each base token and its own ADM, aesthetic 6 / 2.5, no timed switch', () => {
    const ctx = refiner.inspection.unet.contextDim!;
    const text = baseText(base.inspection.unet.contextDim!, refiner.inspection.unet.admInChannels! - 5 * 256);
    for (const side of ['positive', 'negative'] as const) {
      const got = refinerConditioning(refiner, text, baseSide(text), side, 1024, 768);
      expect(got.text.width).toBe(ctx);
      expect(got.text.tokens).toBe(text.tokens);
      for (const t of [0, 1, 153]) {
        expect(Array.from(got.text.context.subarray(t * ctx, (t + 1) * ctx))).toEqual(Array.from(text.context.subarray((t + 1) * text.width - ctx, (t + 1) * text.width)));
      }
      expect(Array.from(got.adm.emphasized)).toEqual(Array.from(sdxlRefinerAdm(text.pooled, 1024, 768, REFINER_AESTHETIC_SCORE[side])));
      expect(got.adm.consistent).toBe(got.adm.emphasized);
    }
    expect(REFINER_AESTHETIC_SCORE).toEqual({ positive: 6, negative: 2.5 });
  });

  it('an SDXL base used as refiner gets the base conditioning unchanged (timed ADM included)', () => {
    const text = baseText(base.inspection.unet.contextDim!, 128);
    const side = baseSide(text);
    expect(refinerConditioning(base, text, side, 'positive', 128, 128)).toBe(side);
  });

  it('refuses a base whose conditioning does not fit the refiner', () => {
    expect(() => refinerConditioning(refiner, baseText(64, 128), baseSide(baseText(64, 128)), 'positive', 128, 128)).toThrow(EngineInputError);
    const wrongPooled = baseText(base.inspection.unet.contextDim!, 100);
    expect(() => refinerConditioning(refiner, wrongPooled, baseSide(wrongPooled), 'positive', 128, 128)).toThrow(EngineInputError);
  });

  it('validates the swap method and the switch step', () => {
    expect(() => validateRefinerJob({ checkpoint: REFINER, switchStep: 3, swapMethod: 'vae' }, 6)).toThrow(/latent interposer/);
    expect(() => validateRefinerJob({ checkpoint: REFINER, switchStep: 3, swapMethod: 'swap' as never }, 6)).toThrow(EngineInputError);
    expect(() => validateRefinerJob({ checkpoint: REFINER, switchStep: 7, swapMethod: 'joint' }, 6)).toThrow(EngineInputError);
    expect(() => validateRefinerJob({ checkpoint: REFINER, switchStep: 1.5, swapMethod: 'joint' }, 6)).toThrow(EngineInputError);
    expect(() => validateRefinerJob({ checkpoint: REFINER, switchStep: 6, swapMethod: 'separate' }, 6)).not.toThrow();
  });
});

describe('Engine with a refiner (tiny base + tiny refiner, CPU)', () => {
  const run = section.joint_run;
  let dir: string;
  let engine: Engine;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'engine-refiner-'));
    engine = new Engine({ cacheDir: join(dir, 'cache') });
  });
  afterAll(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const [, , lh, lw] = run.latent_shape as number[];
  const job = (over: Partial<TextToImageJob> = {}): TextToImageJob => ({
    checkpoint: TINY_CHECKPOINT,
    positive: [run.positive], negative: [run.negative],
    width: lw * 8, height: lh * 8, steps: run.steps, sampler: run.sampler, scheduler: run.scheduler, cfg: run.cfg,
    sharpness: run.sharpness, adaptiveCfg: run.adaptive_cfg,
    adm: { positive: run.adm_scaler[0], negative: run.adm_scaler[1], end: run.adm_scaler[2] },
    seeds: [BigInt(run.seed)],
    refiner: { checkpoint: REFINER, switchStep: run.switch, swapMethod: 'joint' },
    ...over,
  });
  const rgb = async (png: Uint8Array) => new Uint8Array(await sharp(Buffer.from(png)).removeAlpha().raw().toBuffer());

  it('joint: the PNG is the golden joint run’s image, with progress over every step; base and refiner both stay loaded', async () => {
    const steps: number[] = [];
    const [img] = await engine.generate(job(), { onProgress: (p) => steps.push(p.step) });
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    const want = openSafetensors(join(FEATURES, run.file));
    const rule = /(\d+)\s*LSB on at most ([\d.]+)\s*%/.exec(featuresJson.tolerances.fp32['run_image_u8 / png'])!;
    const cmp = compareU8(await rgb(img.data), want.tensor('image_u8').data as Uint8Array, Number(rule[1]), Number(rule[2]) / 100);
    console.log(`[refiner joint engine] image_u8 max ${cmp.maxAbs} LSB on ${(cmp.maxRel * 100).toFixed(3)}%`);
    expect(cmp.ok).toBe(true);
    want.close();
    // maxLoadedCheckpoints is 1, yet loading the refiner did not evict the base: same object back.
    const baseModel = await engine.load(TINY_CHECKPOINT, 2);
    expect(await engine.load(REFINER, 2)).not.toBe(baseModel);
    expect(await engine.load(TINY_CHECKPOINT, 2)).toBe(baseModel);
  }, 120_000);

  it('separate: a different image from joint (the base stops one step earlier, the sampler restarts)', async () => {
    const [joint] = await engine.generate(job());
    const steps: number[] = [];
    const [separate] = await engine.generate(job({ refiner: { checkpoint: REFINER, switchStep: run.switch, swapMethod: 'separate' } }), { onProgress: (p) => steps.push(p.step) });
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Buffer.from(separate.data).equals(Buffer.from(joint.data))).toBe(false);
  }, 120_000);

  it('an SDXL base used as refiner (another file, same weights) gives the unrefined image; the base itself as refiner is dropped', async () => {
    const copy = join(dir, 'base-copy.safetensors');
    copyFileSync(TINY_CHECKPOINT, copy);
    const [plain] = await engine.generate(job({ refiner: undefined }));
    const [self] = await engine.generate(job({ refiner: { checkpoint: TINY_CHECKPOINT, switchStep: 2, swapMethod: 'vae' } }));
    expect(Buffer.from(self.data).equals(Buffer.from(plain.data))).toBe(true);
    for (const swapMethod of ['joint', 'separate'] as const) {
      const [refined] = await engine.generate(job({ refiner: { checkpoint: copy, switchStep: 2, swapMethod } }));
      // joint is bit-identical (same conditioning, same UNet); separate restarts the sampler, which Euler does not notice.
      expect(Buffer.from(refined.data).equals(Buffer.from(plain.data))).toBe(true);
    }
  }, 120_000);

  it("refuses swap method 'vae' and a refiner as the base with input errors, before any step", async () => {
    let steps = 0;
    await expect(engine.generate(job({ refiner: { checkpoint: REFINER, switchStep: 3, swapMethod: 'vae' } }), { onProgress: () => steps++ })).rejects.toThrow(/latent interposer/);
    await expect(engine.generate(job({ checkpoint: REFINER, refiner: undefined }))).rejects.toBeInstanceOf(EngineInputError);
    expect(steps).toBe(0);
  });
});
