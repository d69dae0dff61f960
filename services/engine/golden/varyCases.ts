/**
 * Golden `vary` cases (golden-features README §3): Fooocus Vary through the
 * engine's own image-to-image path (pipeline/imageToImage.ts).
 *
 * - `encode`: the input image_u8 through `encodeInitImage` (u8 → [−1, 1],
 *   the checkpoint's VAE encoder, the posterior sample) with the recorded
 *   `vae.eps` (Fooocus draws it unseeded; the engine's own seeded draw is a
 *   documented choice, so the case feeds the recorded one): mean, logvar and
 *   `initial_latent`; and both prompts through the base text encoder.
 * - `<run>` (subtle, strong, strong_7steps): everything from the run's
 *   parameters as the engine does it — `sampleTextToImage` with the encoded
 *   latent as `initLatent` and `job.init.denoise`: the sliced and full
 *   schedules, the seed's noise, `x_init` by the max-denoise rule, then every
 *   step's t (exact), x, denoised, cond/uncond eps and the timed ADM vector
 *   (y_in), `x_final`, `latent_for_vae`, `image01` and `image_u8` (the 8-bit
 *   image by the pipeline's `decodeLatent`).
 *
 * Prompts, seeds, denoise, steps, Fooocus settings and tolerances come from
 * cases.json (`cases.vary`, `fooocus_settings`, `tolerances`).
 */
import { fooocusAdm } from '../conditioning/admConditioning.ts';
import { initialLatent, isMaxDenoise } from '../diffusion/initialLatent.ts';
import { latentForVae, latentFromVae } from '../diffusion/latentFormat.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import type { TextToImageJob } from '../job.ts';
import { encodeWorkloads, type TextConditioning } from '../pipeline/encodePrompt.ts';
import { encodeInitImage, type EncodedInit } from '../pipeline/imageToImage.ts';
import { decodeLatent, sampleTextToImage } from '../pipeline/textToImage.ts';
import type { EvalRecord } from '../pipeline/unetDenoiser.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { GoldenSet } from './goldenSet.ts';
import { DEFAULT_CLIP_SKIP, nchwToUnitNhwc, toleranceStartingWith, u8RuleStartingWith, type FooocusSettings } from './refinerCases.ts';

interface VaryRun {
  name: string;
  file: string;
  denoise: number;
  steps: number;
  new_steps?: number;
  seed: string;
  cfg: number;
  sampler: string;
  scheduler: string;
  max_denoise_rule?: boolean;
}

interface VarySection {
  input_file: string;
  image_hw: [number, number];
  latent_shape: [number, number, number, number];
  positive: string;
  negative: string;
  vae_seed?: number;
  runs: VaryRun[];
  sharpness?: number;
  adaptive_cfg?: number;
  /** positive, negative, end. */
  adm_scaler?: [number, number, number];
}

/** What every run shares: the encoded input and both prompts, computed once. */
interface VaryInputs {
  encoded: EncodedInit;
  positive: TextConditioning;
  negative: TextConditioning;
}

export const runVaryCases: CaseRunner = async (set, c) => {
  const section = set.section<VarySection>('vary');
  const settings = ((set.json as { fooocus_settings?: FooocusSettings }).fooocus_settings ?? {}) as FooocusSettings;
  const clipSkip = settings.clip_skip ?? DEFAULT_CLIP_SKIP;
  let inputs: VaryInputs | undefined;
  // Runs need the encoded input even when the encode case failed its comparisons; an encode that threw fails them too.
  const prepare = async (): Promise<VaryInputs> => {
    if (inputs) return inputs;
    const model = await set.baseCheckpoint();
    const file = set.file(section.input_file);
    const [h, w] = section.image_hw;
    const encoded = await encodeInitImage(model, { rgb: file.u8('image_u8'), width: w, height: h }, 0n, { eps: file.float32('vae.eps') });
    const positive = await encodeWorkloads(model, [section.positive], { clipSkip });
    const negative = await encodeWorkloads(model, [section.negative], { clipSkip });
    inputs = { encoded, positive, negative };
    return inputs;
  };

  await c.check('encode', async (checks) => {
    const file = set.file(section.input_file);
    const { encoded, positive, negative } = await prepare();
    const vaeTol = set.tolerance('vae_mean_logvar_latent');
    checks.exact('latent shape', encoded.posterior.dims, section.latent_shape);
    checks.float('vae.mean', encoded.posterior.mean, file.float32('vae.mean'), vaeTol);
    checks.float('vae.logvar', encoded.posterior.logvar, file.float32('vae.logvar'), vaeTol);
    checks.float('initial_latent', encoded.latent, file.float32('initial_latent'), vaeTol);
    const textTol = set.tolerance('text_encoder_outputs');
    for (const [side, cond] of [['pos', positive], ['neg', negative]] as const) {
      if (file.has(`${side}.context`)) checks.float(`${side}.context`, cond.context, file.float32(`${side}.context`), textTol);
      if (file.has(`${side}.pooled`)) checks.float(`${side}.pooled`, cond.pooled, file.float32(`${side}.pooled`), textTol);
    }
  });

  for (const run of section.runs) {
    await c.check(run.name, async (checks) => checkRun(checks, set, section, run, settings, clipSkip, await prepare()));
  }
};

async function checkRun(checks: CaseChecks, set: GoldenSet, section: VarySection, run: VaryRun, settings: FooocusSettings, clipSkip: number, inputs: VaryInputs): Promise<void> {
  const file = set.file(run.file);
  const model = await set.baseCheckpoint();
  const latents = toleranceStartingWith(set, 'run_latents');
  const epsTol = set.tolerance('unet_eps');
  const admTol = set.tolerance('adm_vectors');
  const sigmaTol = set.tolerance('sigmas');
  const [posScale, negScale, end] = section.adm_scaler ?? [settings.adm_scaler_positive ?? 1.5, settings.adm_scaler_negative ?? 0.8, settings.adm_scaler_end ?? 0.3];
  const shape = section.latent_shape;
  const [h, w] = section.image_hw;
  const inputFile = set.file(section.input_file);
  const seed = BigInt(run.seed);
  const job: TextToImageJob = {
    checkpoint: model.path,
    positive: [section.positive],
    negative: [section.negative],
    width: w,
    height: h,
    steps: run.steps,
    sampler: run.sampler,
    scheduler: run.scheduler,
    cfg: run.cfg,
    sharpness: section.sharpness ?? settings.sharpness,
    adaptiveCfg: section.adaptive_cfg ?? settings.adaptive_cfg,
    adm: { positive: posScale, negative: negScale, end },
    clipSkip,
    seeds: [seed],
    init: { rgb: inputFile.u8('image_u8'), width: w, height: h, denoise: run.denoise },
  };

  // The schedule and the start, as sampleTextToImage computes them.
  const sampler = resolveSampler(run.sampler).name;
  const plan = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.steps, sampler, denoise: run.denoise });
  checks.float('sigmas', plan.sigmas, file.float32('sigmas'), sigmaTol);
  if (file.has('sigmas_full_schedule') && run.new_steps !== undefined) {
    const full = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.new_steps, sampler });
    checks.float('sigmas_full_schedule', full.sigmas, file.float32('sigmas_full_schedule'), sigmaTol);
  }
  const noise = torchRandn(shape, seed);
  if (file.has('noise')) checks.float('noise', noise, file.float32('noise'), set.tolerance('torch_randn'));
  const ms = plan.modelSampling;
  if (run.max_denoise_rule !== undefined) {
    const got = isMaxDenoise(ms, plan.sigmas[0]);
    checks.require('max_denoise_rule', got === run.max_denoise_rule, `σ0 ${plan.sigmas[0]} ${got ? 'counts' : 'does not count'} as σmax, expected the opposite`);
  }
  const xInit = initialLatent({ noise, sigmas: plan.sigmas, modelSampling: ms, latent: latentFromVae(inputs.encoded.latent, ms.kind, shape) });
  checks.float('x_init', xInit, file.float32('x_init'), latents);

  const evals: EvalRecord[] = [];
  const xFinal = await sampleTextToImage({
    model,
    job,
    seed,
    positive: inputs.positive,
    negative: inputs.negative,
    initLatent: inputs.encoded.latent,
    onEval: (r) => evals.push({ ...r, x: Float64Array.from(r.x), denoised: Float64Array.from(r.denoised) }),
  });

  let recorded = 0;
  while (file.has(`step${recorded}.x`)) recorded++;
  checks.require('steps', evals.length === recorded, `${evals.length} evaluations, ${recorded} steps recorded (euler: one each)`);
  for (let i = 0; i < Math.min(recorded, evals.length); i++) {
    const s = `step${i}`;
    const e = evals[i];
    checks.exact(`${s}.t`, [e.t], [file.scalar(`${s}.t`)]);
    checks.float(`${s}.x`, e.x, file.float32(`${s}.x`), latents);
    checks.float(`${s}.denoised`, e.denoised, file.float32(`${s}.denoised`), latents);
    checks.float(`${s}.cond.eps`, e.epsCond, file.float32(`${s}.cond.eps`), epsTol);
    if (e.epsUncond) checks.float(`${s}.uncond.eps`, e.epsUncond, file.float32(`${s}.uncond.eps`), epsTol);
  }
  // The timed ADM the pipeline builds for this size: [emphasized | consistent] per side (README §0).
  for (const [side, cond, scale] of [['cond', inputs.positive, posScale], ['uncond', inputs.negative, negScale]] as const) {
    const key = `step0.${side}.y_in`;
    if (!file.has(key)) continue;
    const adm = fooocusAdm(cond.pooled, h, w, scale);
    const got = new Float32Array(adm.emphasized.length + adm.consistent.length);
    got.set(adm.emphasized);
    got.set(adm.consistent, adm.emphasized.length);
    checks.float(key, got, file.float32(key), admTol);
  }

  checks.float('x_final', xFinal, file.float32('x_final'), latents);
  const z = latentForVae(xFinal, ms.kind, shape);
  if (file.has('latent_for_vae')) checks.float('latent_for_vae', z, file.float32('latent_for_vae'), latents);
  if (file.has('image01')) {
    const image = await model.decode({ data: Float32Array.from(z), dims: shape });
    checks.float('image01', nchwToUnitNhwc(image), file.float32('image01'), toleranceStartingWith(set, 'run_image01'));
  }
  if (file.has('image_u8')) {
    const rgb = await decodeLatent(model, xFinal, ms.kind, shape);
    checks.u8('image_u8', rgb.rgb, file.u8('image_u8'), u8RuleStartingWith(set, 'run_image_u8'));
  }
}
