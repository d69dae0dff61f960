/**
 * Image-to-image (imageToImage.ts, Vary) against the golden-features Vary
 * cases (README §3): the VAE encode and posterior sample of the input, the
 * denoise-sliced schedules, the max-denoise start rule, x_init, and whole
 * runs (the recorded posterior draw fed in) down to the 8-bit image; then
 * Engine.generate with an init image: seeded, repeatable, sized by the image.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialLatent } from '../diffusion/initialLatent.ts';
import { latentFromVae } from '../diffusion/latentFormat.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import { Engine } from '../engine.ts';
import { compareArrays, compareU8 } from '../golden/compare.ts';
import { TINY_CHECKPOINT } from '../graphs/testing/golden.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import type { TextToImageJob } from '../job.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { encodeWorkloads } from './encodePrompt.ts';
import { encodeInitImage, posteriorNoiseSeed, rgb8ToVaeInput, samplePosterior, splitPosterior } from './imageToImage.ts';
import { decodeLatent, sampleTextToImage } from './textToImage.ts';

const FEATURES = '/work/shared/golden-features';
const json = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const vary = json.cases.vary;
const LATENTS = json.tolerances.fp32['run_latents (step*.x, denoised*, x_final, x_init)'].atol_times_maxabs as number;
const VAE_TOL = json.tolerances.fp32.vae_mean_logvar_latent as { rtol: number; atol: number };
const U8_RULE = /(\d+)\s*LSB on at most ([\d.]+)\s*%/.exec(json.tolerances.fp32['run_image_u8 / png'])!;
const [H, W] = vary.image_hw as [number, number];
const SHAPE = vary.latent_shape as [number, number, number, number];

let dir: string;
let model: LoadedCheckpoint;
let input: SafetensorsFile;
const runFiles = new Map<string, SafetensorsFile>();
const f32 = (f: SafetensorsFile, name: string) => f.float32(name);
const closeTo = (got: ArrayLike<number>, want: ArrayLike<number>, tol: { atol?: number; rtol?: number; atolTimesMaxAbs?: number }) => {
  const c = compareArrays(got, want, tol);
  expect(c, `max_abs ${c.maxAbs}`).toMatchObject({ ok: true });
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'engine-img2img-'));
  model = await LoadedCheckpoint.load(TINY_CHECKPOINT, { cacheDir: join(dir, 'cache'), compute: 'float32', session: { providers: ['cpu'] } });
  input = openSafetensors(join(FEATURES, vary.input_file));
  for (const run of vary.runs) runFiles.set(run.name, openSafetensors(join(FEATURES, run.file)));
});
afterAll(async () => {
  await model.close();
  input.close();
  for (const f of runFiles.values()) f.close();
  rmSync(dir, { recursive: true, force: true });
});

const inputImage = () => ({ rgb: input.tensor('image_u8').data as Uint8Array, width: W, height: H });

describe('encodeInitImage', () => {
  it('maps bytes to 2·(u8/255) − 1, NCHW', () => {
    const px = rgb8ToVaeInput(Uint8Array.of(0, 255, 51, 102, 204, 128), 2, 1);
    expect(Array.from(px)).toEqual([-1, Math.fround(Math.fround(2 * Math.fround(102 / 255)) - 1), 1, Math.fround(Math.fround(2 * Math.fround(204 / 255)) - 1), Math.fround(Math.fround(2 * Math.fround(51 / 255)) - 1), Math.fround(Math.fround(2 * Math.fround(128 / 255)) - 1)]);
  });

  it('samples the posterior with logvar clamped to [−30, 20]', () => {
    const posterior = splitPosterior({ data: Float32Array.of(1, 2, -40, 25), dims: [1, 2, 1, 2] });
    expect(Array.from(posterior.mean)).toEqual([1, 2]);
    const z = samplePosterior(posterior, [1, 1]);
    // float32 throughout, as torch: exp(0.5·(−30)) and exp(0.5·20).
    expect(z[0]).toBe(Math.fround(1 + Math.fround(Math.exp(-15))));
    expect(z[1]).toBe(Math.fround(2 + Math.fround(Math.exp(10))));
  });

  it('gives the golden mean, logvar and initial_latent for the Vary input (recorded eps)', async () => {
    const got = await encodeInitImage(model, inputImage(), 0n, { eps: f32(input, 'vae.eps') });
    expect(got.posterior.dims).toEqual(SHAPE);
    closeTo(got.posterior.mean, f32(input, 'vae.mean'), VAE_TOL);
    closeTo(got.posterior.logvar, f32(input, 'vae.logvar'), VAE_TOL);
    closeTo(got.latent, f32(input, 'initial_latent'), VAE_TOL);
  });

  it('draws eps from the seed (offset so it is neither the initial noise nor a sampler draw), repeatably', async () => {
    const a = await encodeInitImage(model, inputImage(), 777n);
    const b = await encodeInitImage(model, inputImage(), 777n);
    expect(Buffer.from(a.latent.buffer).equals(Buffer.from(b.latent.buffer))).toBe(true);
    expect(Array.from(a.eps)).toEqual(Array.from(torchRandn(SHAPE, posteriorNoiseSeed(777n))));
    expect(Array.from(a.eps)).not.toEqual(Array.from(torchRandn(SHAPE, 777n)));
    // torch's CPU generator keeps the low 32 bits of the seed only.
    expect(BigInt.asUintN(32, posteriorNoiseSeed(777n))).not.toBe(777n);
    expect(BigInt.asUintN(32, posteriorNoiseSeed(777n))).not.toBe(778n);
    const c = await encodeInitImage(model, inputImage(), 778n);
    expect(Array.from(c.latent)).not.toEqual(Array.from(a.latent));
  });

  it('refuses an image whose size is not a multiple of 8', async () => {
    await expect(encodeInitImage(model, { rgb: new Uint8Array(12 * 8 * 3), width: 12, height: 8 }, 0n)).rejects.toBeInstanceOf(EngineInputError);
  });
});

describe('Vary runs (golden subtle, strong, strong_7steps)', () => {
  for (const run of vary.runs as { name: string; denoise: number; steps: number; new_steps: number; seed: string; cfg: number; sampler: string; scheduler: string; max_denoise_rule: boolean }[]) {
    it(`${run.name}: denoise ${run.denoise}, ${run.steps} steps → sliced sigmas, x_init and the image`, async () => {
      const file = runFiles.get(run.name)!;
      const plan = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.steps, sampler: run.sampler, denoise: run.denoise });
      closeTo(plan.sigmas, f32(file, 'sigmas'), { rtol: 1e-5, atol: 1e-6 });
      closeTo(fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.new_steps, sampler: run.sampler }).sigmas, f32(file, 'sigmas_full_schedule'), { rtol: 1e-5, atol: 1e-6 });
      const encoded = await encodeInitImage(model, inputImage(), 0n, { eps: f32(input, 'vae.eps') });
      const noise = torchRandn(SHAPE, BigInt(run.seed));
      const xInit = initialLatent({ noise, sigmas: plan.sigmas, modelSampling: plan.modelSampling, latent: latentFromVae(encoded.latent, 'discrete_eps', SHAPE) });
      closeTo(xInit, f32(file, 'x_init'), { atolTimesMaxAbs: LATENTS });

      const job: TextToImageJob = {
        checkpoint: TINY_CHECKPOINT, positive: [vary.positive], negative: [vary.negative],
        width: W, height: H, steps: run.steps, sampler: run.sampler, scheduler: run.scheduler, cfg: run.cfg,
        sharpness: vary.sharpness, adaptiveCfg: vary.adaptive_cfg,
        adm: { positive: vary.adm_scaler[0], negative: vary.adm_scaler[1], end: vary.adm_scaler[2] },
        seeds: [BigInt(run.seed)],
        init: { ...inputImage(), denoise: run.denoise },
      };
      const positive = await encodeWorkloads(model, job.positive);
      const negative = await encodeWorkloads(model, job.negative);
      const xs: Float64Array[] = [];
      const xFinal = await sampleTextToImage({
        model, job, seed: BigInt(run.seed), positive, negative, initLatent: encoded.latent,
        onEval: (r) => void xs.push(Float64Array.from(r.x)),
      });
      expect(xs.length).toBe(run.steps);
      closeTo(xs[0], f32(file, 'x_init'), { atolTimesMaxAbs: LATENTS });
      closeTo(xFinal, f32(file, 'x_final'), { atolTimesMaxAbs: LATENTS });
      const rgb = await decodeLatent(model, xFinal, 'discrete_eps', SHAPE);
      const cmp = compareU8(rgb.rgb, file.tensor('image_u8').data as Uint8Array, Number(U8_RULE[1]), Number(U8_RULE[2]) / 100);
      console.log(`[vary ${run.name}] image_u8 max ${cmp.maxAbs} LSB on ${(cmp.maxRel * 100).toFixed(3)}%`);
      expect(cmp.ok).toBe(true);
    }, 60_000);
  }

  it('without initLatent the same job samples text-to-image (denoise ignored, full schedule from zeros)', async () => {
    const run = vary.runs[0];
    const job: TextToImageJob = {
      checkpoint: TINY_CHECKPOINT, positive: [vary.positive], negative: [vary.negative],
      width: W, height: H, steps: run.steps, sampler: 'euler', scheduler: 'karras', cfg: run.cfg, seeds: [1n],
      init: { ...inputImage(), denoise: run.denoise },
    };
    const positive = await encodeWorkloads(model, job.positive);
    const negative = await encodeWorkloads(model, job.negative);
    const sigmas: number[] = [];
    await sampleTextToImage({ model, job, seed: 1n, positive, negative, onEval: (r) => void sigmas.push(r.sigma) });
    expect(sigmas[0]).toBeCloseTo(14.614643, 4);
  }, 60_000);
});

describe('Engine.generate with an init image', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = new Engine({ cacheDir: join(dir, 'engine-cache') });
  });
  afterAll(() => engine.close());

  const job = (over: Partial<TextToImageJob> = {}): TextToImageJob => ({
    checkpoint: TINY_CHECKPOINT, positive: [vary.positive], negative: [vary.negative],
    width: W, height: H, steps: 4, sampler: 'euler', scheduler: 'karras', cfg: 4, seeds: [777n, 778n],
    init: { ...inputImage(), denoise: 0.5 },
    ...over,
  });
  const pixels = async (png: Uint8Array) => new Uint8Array(await sharp(Buffer.from(png)).removeAlpha().raw().toBuffer());

  it('is the pipeline composed: encode once with the first seed’s posterior draw, sample each seed, decode', async () => {
    const steps: number[] = [];
    const images = await engine.generate(job(), { onProgress: (p) => steps.push(p.step) });
    expect(steps).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(images.map((i) => [i.width, i.height])).toEqual([[W, H], [W, H]]);
    const encoded = await encodeInitImage(model, inputImage(), 777n);
    const positive = await encodeWorkloads(model, [vary.positive]);
    const negative = await encodeWorkloads(model, [vary.negative]);
    for (const [i, seed] of [777n, 778n].entries()) {
      const x = await sampleTextToImage({ model, job: job(), seed, positive, negative, initLatent: encoded.latent });
      const want = await decodeLatent(model, x, 'discrete_eps', SHAPE);
      expect(Buffer.from(await pixels(images[i].data)).equals(Buffer.from(want.rgb))).toBe(true);
    }
  }, 120_000);

  it('follows the init image, its denoise and its encodeSeed', async () => {
    const png = async (over: Partial<TextToImageJob>) => Buffer.from((await engine.generate(job({ seeds: [5n], ...over })))[0].data);
    const subtle = await png({});
    expect(subtle.equals(await png({}))).toBe(true);
    expect(subtle.equals(await png({ init: { ...inputImage(), denoise: 0.5, encodeSeed: 6n } }))).toBe(false);
    expect(subtle.equals(await png({ init: { ...inputImage(), denoise: 0.85 } }))).toBe(false);
    expect(subtle.equals(await png({ init: undefined }))).toBe(false);
    const flipped = Uint8Array.from(inputImage().rgb, (v) => 255 - v);
    expect(subtle.equals(await png({ init: { rgb: flipped, width: W, height: H, denoise: 0.5 } }))).toBe(false);
  }, 120_000);

  it('refuses an init image of another size, a bad denoise or a short buffer before any step', async () => {
    let steps = 0;
    const onProgress = () => void steps++;
    await expect(engine.generate(job({ width: W + 8 }), { onProgress })).rejects.toThrow(/init image is 128×128, the job 136×128/);
    await expect(engine.generate(job({ init: { ...inputImage(), denoise: 0 } }), { onProgress })).rejects.toBeInstanceOf(EngineInputError);
    await expect(engine.generate(job({ init: { ...inputImage(), denoise: 1.5 } }), { onProgress })).rejects.toBeInstanceOf(EngineInputError);
    await expect(engine.generate(job({ init: { rgb: new Uint8Array(10), width: W, height: H, denoise: 0.5 } }), { onProgress })).rejects.toBeInstanceOf(EngineInputError);
    expect(steps).toBe(0);
  });
});
