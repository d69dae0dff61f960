/**
 * Golden `txt2img` runs (README §2.7, recipe §4.4), each checked twice:
 *
 * 1. `<run>`: the recorded conditioning (`cond.*`, `uncond.*`), `x_init`,
 *    `sigmas` and SDE noise (`sde_noise{k}`) are fed in, so only the
 *    denoiser, the UNet, the sampler and the VAE are exercised; every step's
 *    timestep (exactly, or within the interpolated-t tolerance), `x` and
 *    `denoised`, then `x_final`, `latent_for_vae`, `image` and `image_u8`
 *    are compared.
 * 2. `<run> e2e`: everything from the run's parameters, as the engine does it
 *    — the 8-bit image through the pipeline's `decodeLatent`, prompts through the tokenizer and the text-encoder graphs
 *    (`encodeWorkloads`), `y` from the pooled vector and the run's size
 *    conditioning, sigmas from the scheduler name (`fooocusSamplingSigmas`),
 *    noise from the seed (`torchRandn`), `x_init` by the ComfyUI rule
 *    (`initialLatent`), SDE noise from the seed stream (`samplerNoise`) —
 *    with every intermediate compared on the way.
 *
 * The model sampling comes from the scheduler name, as in the engine; the
 * interpolated-t run swaps only the σ → t map (k-diffusion's default).
 */
import { sdxlAdm } from '../conditioning/admConditioning.ts';
import { initialLatent } from '../diffusion/initialLatent.ts';
import { emptyLatentIn } from '../diffusion/latentFormat.ts';
import { interpolatedTimestep } from '../diffusion/modelSampling.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import type { ModelSampling } from '../diffusion/types.ts';
import { encodeWorkloads } from '../pipeline/encodePrompt.ts';
import { samplerNoise } from '../pipeline/textToImage.ts';
import { tokenizeForSdxl } from '../text/tokenizePrompt.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { Tolerance } from './compare.ts';
import type { CaseFile, GoldenSet } from './goldenSet.ts';
import { checkDecodedImage } from './imageChecks.ts';
import { recordedConditioning, recordedNoise, sampleWithUnet, type SideTensors, type UnetSamplingRun } from './unetSampling.ts';

export interface Txt2imgRun {
  file: string;
  sampler: string;
  scheduler: string;
  steps: number;
  cfg: number;
  /** 'quantized' (ComfyUI/Fooocus) or 'interpolated' (k-diffusion's CompVisDenoiser). */
  sigma_to_timestep: string;
  positive: string;
  negative: string;
  latent_shape: [number, number, number, number];
  /** original_h, original_w, crop_top, crop_left, target_h, target_w. */
  size_cond: number[];
  noise_seed: string;
}

interface RunTolerances {
  latents: Tolerance;
  timestep: Tolerance;
}

function runTolerances(set: GoldenSet, run: Txt2imgRun): RunTolerances {
  return {
    latents: set.tolerance('txt2img_latents'),
    timestep: run.sigma_to_timestep === 'interpolated' ? set.tolerance('timesteps_interpolated') : { atol: 0, rtol: 0 },
  };
}

function samplingPlan(run: Txt2imgRun) {
  const sampler = resolveSampler(run.sampler);
  const plan = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.steps, sampler: sampler.name });
  const ms = plan.modelSampling;
  const timestepOf = run.sigma_to_timestep === 'interpolated' ? (sigma: number) => interpolatedTimestep(ms, sigma) : undefined;
  return { sampler, sigmas: plan.sigmas, ms, timestepOf };
}

/** step{i}.t / .x / .denoised for every recorded step, then x_final and the decoded image. */
async function checkRun(checks: CaseChecks, set: GoldenSet, run: Txt2imgRun, file: CaseFile, got: UnetSamplingRun, ms: ModelSampling, viaPipeline: boolean): Promise<void> {
  const tol = runTolerances(set, run);
  let recorded = 0;
  while (file.has(`step${recorded}.x`)) recorded++;
  checks.require('steps', got.steps.length === recorded, `${got.steps.length} steps, ${recorded} recorded`);
  const compared = Math.min(recorded, got.steps.length);
  // One vector for all steps, so "rel" is against the largest t, not a t near 0.
  if (file.has('step0.t')) {
    const want = Array.from({ length: compared }, (_, i) => file.scalar(`step${i}.t`));
    checks.float('step*.t', got.steps.slice(0, compared).map((s) => s.t), want, tol.timestep);
  }
  for (let i = 0; i < compared; i++) {
    const s = got.steps[i];
    checks.float(`step${i}.x`, s.x, file.float32(`step${i}.x`), tol.latents);
    if (file.has(`step${i}.denoised`)) checks.float(`step${i}.denoised`, s.denoised, file.float32(`step${i}.denoised`), tol.latents);
  }
  checks.float('x_final', got.xFinal, file.float32('x_final'), tol.latents);
  await checkDecodedImage(checks, await set.checkpoint(), got.xFinal, ms.kind, run.latent_shape, file, {
    latentForVae: tol.latents,
    image: set.tolerance('txt2img_image'),
    u8: set.u8Rule('png_u8'),
  }, { viaPipeline });
}

async function checkRecordedConditioningRun(checks: CaseChecks, set: GoldenSet, run: Txt2imgRun): Promise<void> {
  const model = await set.checkpoint();
  const file = set.file(run.file);
  const { sampler, ms, timestepOf } = samplingPlan(run);
  const got = await sampleWithUnet({
    model,
    modelSampling: ms,
    latentShape: run.latent_shape,
    cond: recordedConditioning(file, 'cond'),
    uncond: recordedConditioning(file, 'uncond'),
    cfg: run.cfg,
    sampler: sampler.name,
    sigmas: file.latent('sigmas'),
    xInit: file.latent('x_init'),
    noise: sampler.noise === 'none' ? undefined : recordedNoise(file, 'sde_noise'),
    timestepOf,
  });
  await checkRun(checks, set, run, file, got, ms, false);
}

/** One prompt side from its text, as the engine conditions it, compared with the recorded tensors. */
async function encodeSide(checks: CaseChecks, set: GoldenSet, run: Txt2imgRun, file: CaseFile, side: 'cond' | 'uncond'): Promise<SideTensors> {
  const model = await set.checkpoint();
  const text = side === 'cond' ? run.positive : run.negative;
  const tol = set.tolerance('text_encoders');
  const tokens = tokenizeForSdxl(text);
  if (file.has(`${side}.clip_l.ids`)) checks.exact(`${side}.clip_l.ids`, tokens.clipL.flatMap((c) => c.ids), file.ints(`${side}.clip_l.ids`));
  if (file.has(`${side}.clip_g.ids`)) checks.exact(`${side}.clip_g.ids`, tokens.clipG.flatMap((c) => c.ids), file.ints(`${side}.clip_g.ids`));
  const conditioning = await encodeWorkloads(model, [text]);
  const [originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth] = run.size_cond;
  const y = sdxlAdm(conditioning.pooled, { originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth });
  checks.float(`${side}.context`, conditioning.context, file.float32(`${side}.context`), tol);
  checks.float(`${side}.y`, y, file.float32(`${side}.y`), tol);
  return { context: conditioning.context, tokens: conditioning.tokens, width: conditioning.width, y };
}

async function checkEndToEndRun(checks: CaseChecks, set: GoldenSet, run: Txt2imgRun): Promise<void> {
  const model = await set.checkpoint();
  const file = set.file(run.file);
  const tol = runTolerances(set, run);
  const { sampler, sigmas, ms, timestepOf } = samplingPlan(run);
  const cond = await encodeSide(checks, set, run, file, 'cond');
  const uncond = await encodeSide(checks, set, run, file, 'uncond');
  checks.float('sigmas', sigmas, file.float32('sigmas'), set.tolerance('schedules'));

  const seed = BigInt(run.noise_seed);
  const noise = torchRandn(run.latent_shape, seed);
  if (file.has('noise')) checks.float('noise', noise, file.float32('noise'), set.tolerance('torch_randn'));
  const latent = ms.kind === 'edm' ? emptyLatentIn(ms.kind, run.latent_shape) : undefined;
  const xInit = initialLatent({ noise, sigmas, modelSampling: ms, latent });
  checks.float('x_init', xInit, file.float32('x_init'), tol.latents);

  const got = await sampleWithUnet({
    model,
    modelSampling: ms,
    latentShape: run.latent_shape,
    cond,
    uncond,
    cfg: run.cfg,
    sampler: sampler.name,
    sigmas,
    xInit,
    noise: samplerNoise(sampler.noise, seed, run.latent_shape),
    timestepOf,
  });
  await checkRun(checks, set, run, file, got, ms, true);
}

export const runTxt2imgCases: CaseRunner = async (set, c) => {
  const runs = set.section<Record<string, Txt2imgRun>>('txt2img');
  for (const [name, run] of Object.entries(runs)) {
    await c.check(name, (checks) => checkRecordedConditioningRun(checks, set, run));
    await c.check(`${name} e2e`, (checks) => checkEndToEndRun(checks, set, run));
  }
};
