/**
 * Golden `refiner` cases (golden-features README §2), through the engine's
 * own paths:
 *
 * - `text pos|neg`: the refiner checkpoint's own CLIP-G (`embedders.0.model.`)
 *   as the loader builds it: ids, penultimate states, pooled. Fooocus never
 *   conditions on it; these check the loader.
 * - `unet case{i}`: raw refiner UNet calls (`LoadedCheckpoint.unet`).
 * - `adm case{i}`: the refiner ADM as the pipeline builds it
 *   (`refinerConditioning`, which also picks the aesthetic score by prompt
 *   type), from the recorded pooled vector.
 * - `joint_run`: the whole Fooocus joint run by `sampleTextToImage` with the
 *   refiner: prompts through the base text encoder, sigmas from the scheduler
 *   name, noise from the seed, Fooocus guidance, the swap after step
 *   `switch`'s callback, then the base VAE. A recording stand-in for each
 *   model's UNet call keeps what the UNet was fed (unet_x, context, y_in), so
 *   the refiner's conditioning is checked where it is used; every step's
 *   t, x, eps and denoised, x_final, image01 and image_u8 are compared.
 *
 * Prompts, sizes, seeds, switch, swap, Fooocus settings and tolerances all
 * come from cases.json (`cases.refiner`, `fooocus_settings`, `tolerances`).
 */
import { admSwitchTimestep } from '../conditioning/admConditioning.ts';
import { latentForVae } from '../diffusion/latentFormat.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import type { TextToImageJob } from '../job.ts';
import { encodeWorkloads, hiddenIndexForClipSkip, type TextConditioning } from '../pipeline/encodePrompt.ts';
import { refinerConditioning, type PromptType } from '../pipeline/refiner.ts';
import { decodeLatent, sampleTextToImage } from '../pipeline/textToImage.ts';
import type { EvalRecord } from '../pipeline/unetDenoiser.ts';
import type { FloatTensor, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { tokenizeForSdxl } from '../text/tokenizePrompt.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { Tolerance } from './compare.ts';
import type { GoldenSet } from './goldenSet.ts';

interface JointRun {
  file: string;
  positive: string;
  negative: string;
  steps: number;
  switch: number;
  cfg: number;
  sampler: string;
  scheduler: string;
  seed: string;
  latent_shape: [number, number, number, number];
  model_per_step?: ('base' | 'refiner')[];
  sharpness?: number;
  adaptive_cfg?: number;
  /** positive, negative, end. */
  adm_scaler?: [number, number, number];
}

interface RefinerSection {
  checkpoint: string;
  text_file: string;
  prompts: Record<string, string>;
  unet_items: { case: number }[];
  adm_items: { case: number; height: number; width: number; crop_h: number; crop_w: number; prompt_type: PromptType; aesthetic_score: number }[];
  joint_run?: JointRun;
}

export interface FooocusSettings {
  sharpness?: number;
  adaptive_cfg?: number;
  adm_scaler_positive?: number;
  adm_scaler_negative?: number;
  adm_scaler_end?: number;
  clip_skip?: number;
}

/** SDXL conditions on the penultimate CLIP layer (README §0: CLIP skip 2), unless fooocus_settings says otherwise. */
export const DEFAULT_CLIP_SKIP = 2;

/** A features-set tolerance whose key starts with `prefix` (`run_latents (step*.x, …)`). */
export function toleranceStartingWith(set: GoldenSet, prefix: string): Tolerance {
  const key = Object.keys(set.json.tolerances?.fp32 ?? {}).find((k) => k === prefix || k.startsWith(`${prefix} `));
  if (!key) throw new Error(`cases.json has no tolerance ${prefix}`);
  return set.tolerance(key);
}

/** The u8 rule whose key starts with `prefix` (`run_image_u8 / png`). */
export function u8RuleStartingWith(set: GoldenSet, prefix: string) {
  const key = Object.keys(set.json.tolerances?.fp32 ?? {}).find((k) => k.startsWith(prefix));
  return set.u8Rule(key ?? prefix);
}

export const runRefinerCases: CaseRunner = async (set, c) => {
  const section = set.section<RefinerSection>('refiner');
  const file = set.file(section.text_file);
  const refiner = () => set.checkpointAt(section.checkpoint);
  const settings = ((set.json as { fooocus_settings?: FooocusSettings }).fooocus_settings ?? {}) as FooocusSettings;
  const clipSkip = settings.clip_skip ?? DEFAULT_CLIP_SKIP;

  for (const [side, text] of Object.entries(section.prompts)) {
    await c.check(`text ${side}`, async (checks) => {
      const model = await refiner();
      const tol = set.tolerance('text_encoder_outputs');
      const chunks = tokenizeForSdxl(text).clipG;
      const ids = chunks.flatMap((ch) => ch.ids);
      checks.exact(`text.${side}.g_ids`, ids, file.ints(`text.${side}.g_ids`));
      const out = await model.encodeClip('clip_g', BigInt64Array.from(ids, BigInt), chunks.length);
      const per = ids.length * out.width;
      const index = hiddenIndexForClipSkip(out.layers, clipSkip);
      checks.float(`text.${side}.penultimate`, out.hidden.subarray(index * per, (index + 1) * per), file.float32(`text.${side}.penultimate`), tol);
      checks.require(`text.${side}.pooled`, !!out.pooled, 'the refiner CLIP-G graph returns no pooled output');
      if (out.pooled) checks.float(`text.${side}.pooled`, out.pooled, file.float32(`text.${side}.pooled`), tol);
    });
  }

  for (const item of section.unet_items) {
    const k = (name: string) => `unet.case${item.case}.${name}`;
    await c.check(`unet case${item.case}`, async (checks) => {
      const model = await refiner();
      const tensor = (name: string): FloatTensor => ({ data: file.float32(k(name)), dims: file.shape(k(name)) });
      const eps = await model.unet(tensor('x'), file.float32(k('timesteps')), tensor('context'), tensor('y'));
      checks.float(k('eps'), eps, file.float32(k('eps')), set.tolerance('unet_eps'));
    });
  }

  for (const item of section.adm_items) {
    await c.check(`adm case${item.case}`, async (checks) => {
      const model = await refiner();
      checks.require('crop', item.crop_h === 0 && item.crop_w === 0, `crop (${item.crop_h}, ${item.crop_w}): Fooocus conditions the refiner with crop 0 only`);
      const pooled = file.float32('adm.pooled');
      const ctx = model.inspection.unet.contextDim!;
      // Only the pooled vector matters to the ADM; the context is a placeholder of the refiner's width.
      const text: TextConditioning = { context: new Float32Array(ctx), tokens: 1, width: ctx, pooled };
      const base = { text, adm: { emphasized: new Float32Array(0), consistent: new Float32Array(0) } };
      const side = refinerConditioning(model, text, base, item.prompt_type, item.height, item.width);
      checks.float(`adm.case${item.case}.y`, side.adm.emphasized, file.float32(`adm.case${item.case}.y`), set.tolerance('adm_vectors'));
      checks.require('consistent', side.adm.consistent === side.adm.emphasized, 'the refiner ADM must not switch by timestep');
    });
  }

  const run = section.joint_run;
  if (run) await c.check('joint_run', (checks) => checkJointRun(checks, set, section, run, settings, clipSkip));
};

/** One UNet call as fed, split per batch entry. */
interface UnetFeed {
  model: 'base' | 'refiner';
  x: Float32Array;
  t: number;
  context: Float32Array;
  y: Float32Array;
}

/** `model` with its UNet calls recorded per batch entry; everything else passes through. */
function recordingUnet(model: LoadedCheckpoint, name: UnetFeed['model'], feeds: UnetFeed[]): LoadedCheckpoint {
  const unet: LoadedCheckpoint['unet'] = async (x, timesteps, context, y, opts) => {
    const b = x.dims[0];
    const slice = (t: FloatTensor, i: number) => t.data.slice((i * t.data.length) / b, ((i + 1) * t.data.length) / b);
    for (let i = 0; i < b; i++) feeds.push({ model: name, x: slice(x, i), t: timesteps[i], context: slice(context, i), y: slice(y, i) });
    return model.unet(x, timesteps, context, y, opts);
  };
  return new Proxy(model, {
    get: (target, prop) => {
      if (prop === 'unet') return unet;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function checkJointRun(checks: CaseChecks, set: GoldenSet, section: RefinerSection, run: JointRun, settings: FooocusSettings, clipSkip: number): Promise<void> {
  const file = set.file(run.file);
  const base = await set.baseCheckpoint();
  const refiner = await set.checkpointAt(section.checkpoint);
  const latents = toleranceStartingWith(set, 'run_latents');
  const eps = set.tolerance('unet_eps');
  const textTol = set.tolerance('text_encoder_outputs');
  const admTol = set.tolerance('adm_vectors');
  const [posScale, negScale, end] = run.adm_scaler ?? [settings.adm_scaler_positive ?? 1.5, settings.adm_scaler_negative ?? 0.8, settings.adm_scaler_end ?? 0.3];
  const shape = run.latent_shape;
  const job: TextToImageJob = {
    checkpoint: base.path,
    positive: [run.positive],
    negative: [run.negative],
    width: shape[3] * 8,
    height: shape[2] * 8,
    steps: run.steps,
    sampler: run.sampler,
    scheduler: run.scheduler,
    cfg: run.cfg,
    sharpness: run.sharpness ?? settings.sharpness,
    adaptiveCfg: run.adaptive_cfg ?? settings.adaptive_cfg,
    adm: { positive: posScale, negative: negScale, end },
    clipSkip,
    seeds: [BigInt(run.seed)],
    refiner: { checkpoint: refiner.path, switchStep: run.switch, swapMethod: 'joint' },
  };

  const positive = await encodeWorkloads(base, job.positive, { clipSkip });
  const negative = await encodeWorkloads(base, job.negative, { clipSkip });
  for (const [side, cond] of [['pos', positive], ['neg', negative]] as const) {
    if (file.has(`${side}.context`)) checks.float(`${side}.context`, cond.context, file.float32(`${side}.context`), textTol);
    if (file.has(`${side}.pooled`)) checks.float(`${side}.pooled`, cond.pooled, file.float32(`${side}.pooled`), textTol);
  }
  const plan = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.steps, sampler: resolveSampler(run.sampler).name });
  if (file.has('sigmas')) checks.float('sigmas', plan.sigmas, file.float32('sigmas'), set.tolerance('sigmas'));
  if (file.has('noise')) checks.float('noise', torchRandn(shape, job.seeds[0]), file.float32('noise'), latents);

  const feeds: UnetFeed[] = [];
  const evals: (EvalRecord & { model: 'base' | 'refiner' })[] = [];
  const xFinal = await sampleTextToImage({
    model: recordingUnet(base, 'base', feeds),
    refiner: recordingUnet(refiner, 'refiner', feeds),
    job,
    seed: job.seeds[0],
    positive,
    negative,
    onEval: (r, model) => evals.push({ ...r, x: Float64Array.from(r.x), denoised: Float64Array.from(r.denoised), model }),
  });

  let recorded = 0;
  while (file.has(`step${recorded}.x`)) recorded++;
  checks.require('steps', evals.length === recorded, `${evals.length} evaluations, ${recorded} steps recorded (euler: one each)`);
  if (run.model_per_step) {
    const models = evals.map((e) => e.model);
    checks.require('model_per_step', models.join() === run.model_per_step.join(), `models ${models.join()}, expected ${run.model_per_step.join()}`);
  }
  // Feeds per evaluation: cond then uncond (one batch of 2, or two calls of 1).
  const perEval = feeds.length / Math.max(1, evals.length);
  checks.require('feeds', Number.isInteger(perEval) && perEval === 2, `${feeds.length} UNet batch entries for ${evals.length} evaluations`);
  const switchT = admSwitchTimestep(end);
  for (let i = 0; i < Math.min(recorded, evals.length); i++) {
    const s = `step${i}`;
    const e = evals[i];
    checks.exact(`${s}.t`, [e.t], [file.scalar(`${s}.t`)]);
    checks.float(`${s}.x`, e.x, file.float32(`${s}.x`), latents);
    checks.float(`${s}.denoised`, e.denoised, file.float32(`${s}.denoised`), latents);
    checks.float(`${s}.cond.eps`, e.epsCond, file.float32(`${s}.cond.eps`), eps);
    if (e.epsUncond) checks.float(`${s}.uncond.eps`, e.epsUncond, file.float32(`${s}.uncond.eps`), eps);
    ['cond', 'uncond'].forEach((side, j) => {
      const feed = feeds[i * 2 + j];
      if (!feed) return;
      const k = (name: string) => `${s}.${side}.${name}`;
      checks.float(k('unet_x'), feed.x, file.float32(k('unet_x')), latents);
      // y_in is base double-width [emphasized | consistent] (the UNet uses the first half while t > 999·(1 − end)),
      // or the refiner's single vector.
      const yIn = file.float32(k('y_in'));
      const wantY = feed.y.length === yIn.length ? yIn : e.t > switchT ? yIn.subarray(0, yIn.length / 2) : yIn.subarray(yIn.length / 2);
      checks.float(k('y_in'), feed.y, wantY, admTol);
      if (file.has(k('context'))) checks.float(k('context'), feed.context, file.float32(k('context')), textTol);
    });
  }
  checks.float('x_final', xFinal, file.float32('x_final'), latents);
  const kind = plan.modelSampling.kind;
  const z = latentForVae(xFinal, kind, shape);
  if (file.has('latent_for_vae')) checks.float('latent_for_vae', z, file.float32('latent_for_vae'), latents);
  // Decoding uses the base VAE (Fooocus discards the refiner's).
  if (file.has('image01')) {
    const image = await base.decode({ data: Float32Array.from(z), dims: shape });
    checks.float('image01', nchwToUnitNhwc(image), file.float32('image01'), toleranceStartingWith(set, 'run_image01'));
  }
  if (file.has('image_u8')) {
    const rgb = await decodeLatent(base, xFinal, kind, shape);
    checks.u8('image_u8', rgb.rgb, file.u8('image_u8'), u8RuleStartingWith(set, 'run_image_u8'));
  }
}

/** VAE output [1, C, H, W] in [-1, 1] → clamp((x + 1)/2, 0, 1) as NHWC (the features set's image01). */
export function nchwToUnitNhwc(image: FloatTensor): Float32Array {
  const [, ch, h, w] = image.dims;
  const out = new Float32Array(ch * h * w);
  const f = Math.fround;
  for (let c = 0; c < ch; c++) {
    for (let p = 0; p < h * w; p++) {
      const v = f(f(image.data[c * h * w + p] + 1) / 2);
      out[p * ch + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return out;
}
