/**
 * Golden `inpaint` cases (golden-features README §5), through the engine's
 * own inpaint modules:
 *
 * - `cv …` (`cases/inpaint_cv.safetensors`, all exact): erode/dilate and
 *   invert, the mask upload merge, the interested area for each k in
 *   cases.json, morphological_open, fooocus_fill (PIL BoxBlur), the crop mask
 *   resample + threshold, set_image_shape_ceil, PIL Lanczos, HWC3, the
 *   outpaint paddings and post_process.
 * - `model …` (`cases/inpaint_model.safetensors`): the patch merged into the
 *   base through the LoRA shard machinery (merged weights), the head feature
 *   from the `.pth`, the UNet eps plain / patch only / head only / patch and
 *   head, and encode_vae_inpaint (masked pixels, latent_mask, both posterior
 *   samples with the recorded eps).
 * - `run` (`cases/inpaint_run.safetensors`): the inpaint sampling with the
 *   synthetic refiner through `inpaintRun`: per step energy noise, UNet input,
 *   eps, blended denoised and x, x_final, image01, image_u8 and the
 *   post-processed canvas.
 *
 * Every parameter (k values, sizes, outpaint sides and distances, seeds,
 * steps, switch, cfg, prompts) and every tolerance comes from cases.json.
 */
import { hwc3 } from '../image/decodeImage.ts';
import { resampleLanczos, type U8Image } from '../image/resampleLanczos.ts';
import { getShapeCeil, shapeCeilSize } from '../image/varyInputImage.ts';
import { fooocusFill } from '../inpaint/fooocusFill.ts';
import { computeInitialAbcd, cropImage, solveAbcd } from '../inpaint/interestedArea.ts';
import { erodeOrDilate, invertMask, mergeUploadedMask, morphologicalOpen, up255, type Mask } from '../inpaint/maskMorphology.ts';
import { applyOutpaint, type OutpaintSide } from '../inpaint/outpaint.ts';
import { inpaintPostProcess } from '../inpaint/postProcess.ts';
import { latentForVae } from '../diffusion/latentFormat.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import { CHECKPOINT_PREFIXES } from '../io/inspectCheckpoint.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { encodeVaeInpaint, unitPixels, type EncodedInpaint } from '../inpaint/encodeVaeInpaint.ts';
import { inpaintHeadFeature, loadInpaintHead, type InpaintHead } from '../inpaint/inpaintHead.ts';
import { encodeWorkloads } from '../pipeline/encodePrompt.ts';
import { energySeed, inpaintHeadFeatureFor, inpaintModels, inpaintRun, type InpaintBlendRecord, type InpaintModels } from '../pipeline/inpaint.ts';
import { decodeLatent } from '../pipeline/textToImage.ts';
import type { EvalRecord } from '../pipeline/unetDenoiser.ts';
import type { FloatTensor, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseContext, CaseRunner } from './caseRunner.ts';
import type { CaseFile, GoldenSet } from './goldenSet.ts';
import { DEFAULT_CLIP_SKIP, nchwToUnitNhwc, toleranceStartingWith, u8RuleStartingWith, type FooocusSettings } from './refinerCases.ts';

interface InterestedAreaItem {
  k: number;
  initial_abcd: [number, number, number, number];
  abcd: [number, number, number, number];
}

interface OutpaintItem {
  case: number;
  implementation: 'fooocus' | 'fooocusapi';
  selections: OutpaintSide[];
  distance_ltrb: [number, number, number, number] | null;
  out_hw: [number, number];
  strength_after: number;
  respective_field_after: number;
}

interface ResampleItem {
  src: string;
  width: number;
  height: number;
}

interface InpaintCvSection {
  interested_area: InterestedAreaItem[];
  crop_mask_resample_to_wh: [number, number];
  set_image_shape_ceil: { hw: [number, number]; shape_ceil: number; get_shape_ceil: number; result_hw: [number, number] | null }[];
  outpaint: OutpaintItem[];
  [key: `resample.${string}`]: ResampleItem;
}

export interface InpaintSection {
  files: { head: string; patch: string; patch_entries: number; head_shape: number[] };
  cv_file: string;
  cv: InpaintCvSection;
  image_hw: [number, number];
  erode_or_dilate: number[];
  model_file: string;
  patched_unet_keys: number;
  merged_sample_keys: string[];
  unet_case: { t: number };
  run: InpaintRunSection;
}

export interface InpaintRunSection {
  file: string;
  steps: number;
  switch: number;
  refiner_switch: number;
  cfg: number;
  seed: string;
  energy_seed: string;
  sampler: string;
  scheduler: string;
  denoise: number;
  positive: string;
  negative: string;
  model_per_step: string[];
  sigmas: number[];
  timesteps: number[];
}

/** The respective field whose crop the README's crop-mask and post_process cases use (UI default). */
const CROP_K = 0.618;

const image = (file: CaseFile, name: string): U8Image => {
  const s = file.shape(name);
  return { data: file.u8(name), height: s[0], width: s[1], channels: s.length === 3 ? s[2] : 1 };
};

export const runInpaintCases: CaseRunner = async (set, c) => {
  const section = set.section<InpaintSection>('inpaint');
  await runCvCases(set, c, section);
  const shared = new InpaintModelInputs(set, section);
  await runModelCases(set, c, section, shared);
  await c.check('run', (checks) => checkRun(checks, set, section, shared));
};

/** What the model and run cases share, computed once: the patched base, the head, the encoded latents. */
class InpaintModelInputs {
  private modelsLoad?: Promise<InpaintModels>;
  private headLoad?: InpaintHead;
  private encoded?: Promise<EncodedInpaint>;

  constructor(
    private readonly set: GoldenSet,
    private readonly section: InpaintSection,
  ) {}

  base(): Promise<LoadedCheckpoint> {
    return this.set.baseCheckpoint();
  }

  /** The base with the inpaint patch merged through the LoRA shard machinery, and the synthetic refiner. */
  models(): Promise<InpaintModels> {
    this.modelsLoad ??= (async () => inpaintModels(await this.base(), { loras: [], patchPath: this.set.resolve(this.section.files.patch) }))();
    return this.modelsLoad;
  }

  async patched(): Promise<LoadedCheckpoint> {
    return (await this.models()).patched;
  }

  head(): InpaintHead {
    this.headLoad ??= loadInpaintHead(this.set.resolve(this.section.files.head));
    return this.headLoad;
  }

  /** encode_vae_inpaint of the model file's pixels/mask/fill with the recorded posterior draws. */
  encode(): Promise<EncodedInpaint> {
    this.encoded ??= (async () => {
      const file = this.set.file(this.section.model_file);
      const cv = this.set.file(this.section.cv_file);
      return encodeVaeInpaint({
        encoder: await this.base(),
        image: image(cv, 'image_u8'),
        mask: image(cv, 'mask_u8'),
        fill: image(file, 'fill_u8'),
        seed: 0n,
        eps: { inpaint: file.float32('vae_inpaint.eps'), fill: file.float32('vae_fill.eps') },
      });
    })();
    return this.encoded;
  }
}

async function runModelCases(set: GoldenSet, c: CaseContext, section: InpaintSection, shared: InpaintModelInputs): Promise<void> {
  const file = set.file(section.model_file);
  const cv = set.file(section.cv_file);
  const vaeTol = set.tolerance('vae_mean_logvar_latent');

  await c.check('model merged', async (checks) => {
    const patched = await shared.patched();
    const report = patched.lora?.report;
    if (!checks.require('report', !!report, 'the patch merged nothing')) return;
    checks.exact('patched_unet_keys', [report!.patched.unet], [section.patched_unet_keys]);
    checks.exact('patch entries applied', [report!.files[0]?.kinds.fooocus ?? 0], [section.files.patch_entries]);
    checks.require('unmatched', report!.files[0]?.unmatchedCount === 0, `${report!.files[0]?.unmatchedCount} patch tensors unmatched`);
    const shard = openSafetensors(patched.lora!.path);
    try {
      for (const key of section.merged_sample_keys) {
        const ckptKey = `${CHECKPOINT_PREFIXES.unet}${key.slice('diffusion_model.'.length)}`;
        if (!checks.require(key, shard.has(ckptKey), `${ckptKey} is not in the merged shard`)) continue;
        checks.float(`merged.${key}`, shard.float32(ckptKey), file.float32(`merged.${key}`), set.tolerance('lora_merged_weights'));
      }
    } finally {
      shard.close();
    }
  });

  await c.check('model encode_vae_inpaint', async (checks) => {
    const enc = await shared.encode();
    checks.float('pixels', unitPixels(image(cv, 'image_u8')), file.float32('pixels'), { atol: 0 });
    const mask = image(cv, 'mask_u8');
    checks.float('pixel_mask', Float32Array.from(mask.data, (v) => Math.fround(v / 255)), file.float32('pixel_mask'), { atol: 0 });
    checks.float('masked_pixels', enc.maskedPixels, file.float32('masked_pixels'), { atol: 0 });
    checks.float('vae_inpaint.mean', enc.inpaintPosterior.mean, file.float32('vae_inpaint.mean'), vaeTol);
    checks.float('vae_inpaint.logvar', enc.inpaintPosterior.logvar, file.float32('vae_inpaint.logvar'), vaeTol);
    checks.float('latent_inpaint', enc.latentInpaint, file.float32('latent_inpaint'), vaeTol);
    checks.float('vae_fill.mean', enc.fillPosterior.mean, file.float32('vae_fill.mean'), vaeTol);
    checks.float('vae_fill.logvar', enc.fillPosterior.logvar, file.float32('vae_fill.logvar'), vaeTol);
    checks.float('latent_fill', enc.latentFill, file.float32('latent_fill'), vaeTol);
    checks.exact('latent_mask', enc.latentMask, file.float32('latent_mask'));
  });

  await c.check('model head', async (checks) => {
    const head = shared.head();
    checks.exact('head shape', [head.outChannels, 5, 3, 3], section.files.head_shape);
    const enc = await shared.encode();
    const tol = set.tolerance('inpaint_head_feature');
    const [, , h, w] = enc.latentShape;
    const fromEncode = inpaintHeadFeatureFor(head, enc);
    checks.float('head.feed', fromEncode.feed.data, file.float32('head.feed'), tol);
    checks.float('head.feature', fromEncode.feature.data, file.float32('head.feature'), tol);
    // The head alone on the recorded feed.
    checks.float('head.feature (recorded feed)', inpaintHeadFeature(head, file.float32('head.feed'), h, w).data, file.float32('head.feature'), tol);
  });

  const eps = set.tolerance('unet_eps');
  const tensor = (name: string): FloatTensor => ({ data: file.float32(name), dims: file.shape(name) });
  const feature = (): FloatTensor => tensor('head.feature');
  const variants: [string, () => Promise<LoadedCheckpoint>, boolean][] = [
    ['plain', () => shared.base(), false],
    ['patch_only', () => shared.patched(), false],
    ['head_only', () => shared.base(), true],
    ['patch_and_head', () => shared.patched(), true],
  ];
  for (const [name, model, withHead] of variants) {
    await c.check(`model unet.eps.${name}`, async (checks) => {
      const m = await model();
      const got = await m.unet(tensor('unet.x'), file.float32('unet.t'), tensor('unet.context'), tensor('unet.y'), withHead ? { inpaintFeature: feature() } : {});
      checks.float(`unet.eps.${name}`, got, file.float32(`unet.eps.${name}`), eps);
    });
  }
}

async function checkRun(checks: CaseChecks, set: GoldenSet, section: InpaintSection, shared: InpaintModelInputs): Promise<void> {
  const run = section.run;
  const file = set.file(run.file);
  const cv = set.file(section.cv_file);
  const settings = ((set.json as { fooocus_settings?: FooocusSettings }).fooocus_settings ?? {}) as FooocusSettings;
  const clipSkip = settings.clip_skip ?? DEFAULT_CLIP_SKIP;
  const latents = toleranceStartingWith(set, 'run_latents');
  const epsTol = set.tolerance('unet_eps');
  const textTol = set.tolerance('text_encoder_outputs');
  const base = await shared.base();
  const models = await shared.models();
  const enc = await shared.encode();
  const shape = enc.latentShape;
  const seed = BigInt(run.seed);
  checks.exact('energy_seed', [Number(energySeed(seed))], [Number(run.energy_seed)]);

  const positive = await encodeWorkloads(base, [run.positive], { clipSkip });
  const negative = await encodeWorkloads(base, [run.negative], { clipSkip });
  for (const [side, cond] of [['pos', positive], ['neg', negative]] as const) {
    if (file.has(`${side}.context`)) checks.float(`${side}.context`, cond.context, file.float32(`${side}.context`), textTol);
    if (file.has(`${side}.pooled`)) checks.float(`${side}.pooled`, cond.pooled, file.float32(`${side}.pooled`), textTol);
  }
  const plan = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.steps, sampler: resolveSampler(run.sampler).name, denoise: run.denoise });
  checks.float('sigmas', plan.sigmas, file.float32('sigmas'), set.tolerance('sigmas'));
  if (file.has('noise')) checks.float('noise', torchRandn(shape, seed), file.float32('noise'), set.tolerance('torch_randn'));

  const evals: (EvalRecord & { model: 'base' | 'refiner' })[] = [];
  const blends: InpaintBlendRecord[] = [];
  const xFinal = await inpaintRun({
    base: models.patched,
    refiner: models.synthetic,
    headFeature: inpaintHeadFeatureFor(shared.head(), enc).feature,
    latentFill: enc.latentFill,
    latentMask: enc.latentMask,
    latentShape: shape,
    positive,
    negative,
    settings: {
      steps: run.steps,
      sampler: run.sampler,
      scheduler: run.scheduler,
      cfg: run.cfg,
      sharpness: settings.sharpness,
      adaptiveCfg: settings.adaptive_cfg,
      adm: { positive: settings.adm_scaler_positive ?? 1.5, negative: settings.adm_scaler_negative ?? 0.8, end: settings.adm_scaler_end ?? 0.3 },
      denoise: run.denoise,
      seed,
      switchStep: run.switch,
      swapMethod: 'joint',
    },
    onEval: (r, model) => evals.push({ ...r, x: Float64Array.from(r.x), denoised: Float64Array.from(r.denoised), model }),
    onBlend: (r) => blends.push({ ...r, x: Float64Array.from(r.x) }),
  });

  let recorded = 0;
  while (file.has(`step${recorded}.x`)) recorded++;
  checks.require('steps', blends.length === recorded && evals.length === recorded, `${blends.length} blended calls and ${evals.length} evaluations, ${recorded} steps recorded`);
  // cases.json names the models per step; here: which of the two ran (the patched base carries the head).
  const perStep = evals.map((e) => (e.model === 'base' ? 'base(patch+head)' : 'synthetic_refiner(base, no patch, no head)'));
  checks.require('model_per_step', perStep.join() === run.model_per_step.join(), `models ${perStep.join()}, expected ${run.model_per_step.join()}`);
  for (let i = 0; i < Math.min(recorded, blends.length, evals.length); i++) {
    const s = `step${i}`;
    const b = blends[i];
    const e = evals[i];
    checks.exact(`${s}.t`, [e.t], [file.scalar(`${s}.t`)]);
    checks.float(`${s}.x`, b.x, file.float32(`${s}.x`), latents);
    checks.float(`${s}.energy_noise`, b.energy, file.float32(`${s}.energy_noise`), set.tolerance('torch_randn'));
    // The UNet input: x' · c_in (eps models), what Fooocus' UNet received.
    const cIn = 1 / Math.sqrt(b.sigma * b.sigma + 1);
    const unetX = Float64Array.from(b.xBlended, (v) => v * cIn);
    checks.float(`${s}.cond.unet_x`, unetX, file.float32(`${s}.cond.unet_x`), latents);
    checks.float(`${s}.uncond.unet_x`, unetX, file.float32(`${s}.uncond.unet_x`), latents);
    checks.float(`${s}.cond.eps`, e.epsCond, file.float32(`${s}.cond.eps`), epsTol);
    if (e.epsUncond) checks.float(`${s}.uncond.eps`, e.epsUncond, file.float32(`${s}.uncond.eps`), epsTol);
    checks.float(`${s}.denoised_blended`, b.denoisedBlended, file.float32(`${s}.denoised_blended`), latents);
  }
  checks.float('x_final', xFinal, file.float32('x_final'), latents);
  const kind = plan.modelSampling.kind;
  if (file.has('image01')) {
    const z = latentForVae(xFinal, kind, shape);
    const decoded = await base.decode({ data: Float32Array.from(z), dims: shape });
    checks.float('image01', nchwToUnitNhwc(decoded), file.float32('image01'), toleranceStartingWith(set, 'run_image01'));
  }
  const rgb = await decodeLatent(base, xFinal, kind, shape);
  const u8Rule = u8RuleStartingWith(set, 'run_image_u8');
  checks.u8('image_u8', rgb.rgb, file.u8('image_u8'), u8Rule);
  // The interested area of this run is the whole canvas, so post_process resamples to the same size.
  const original = image(cv, 'image_u8');
  const post = inpaintPostProcess({ data: rgb.rgb, width: rgb.width, height: rgb.height, channels: 3 }, original, [0, original.height, 0, original.width], morphologicalOpen(image(cv, 'mask_u8')));
  checks.u8('post_processed_u8', post.data, file.u8('post_processed_u8'), u8Rule);
}

async function runCvCases(set: GoldenSet, c: CaseContext, section: InpaintSection): Promise<void> {
  const file = set.file(section.cv_file);
  const cv = section.cv;
  const img = () => image(file, 'image_u8');
  const mask = (): Mask => image(file, 'mask_u8');
  const byK = (k: number) => cv.interested_area.find((i) => i.k === k);

  await c.check('cv erode_or_dilate', (checks) => {
    for (const k of section.erode_or_dilate) checks.exact(`erode_or_dilate.${k}`, erodeOrDilate(mask(), k).data, file.u8(`erode_or_dilate.${k}`));
    checks.exact('inverted', invertMask(mask()).data, file.u8('inverted'));
  });
  await c.check('cv upload', (checks) => {
    const { merged, resampled } = mergeUploadedMask(mask(), image(file, 'upload.mask_rgb_u8'));
    checks.exact('upload.resampled_u8', resampled.data, file.u8('upload.resampled_u8'));
    checks.exact('upload.merged_mask', merged.data, file.u8('upload.merged_mask'));
  });
  for (const item of cv.interested_area) {
    await c.check(`cv interested_area k=${item.k}`, (checks) => {
      const initial = computeInitialAbcd(mask());
      checks.exact('initial_abcd', initial, item.initial_abcd);
      checks.exact('abcd', solveAbcd(mask().height, mask().width, initial, item.k), item.abcd);
    });
  }
  await c.check('cv morphological_open', (checks) => {
    checks.exact('morphological_open', morphologicalOpen(mask()).data, file.u8('morphological_open'));
  });
  await c.check('cv fooocus_fill', (checks) => {
    checks.exact('fooocus_fill', fooocusFill(img(), mask()).data, file.u8('fooocus_fill'));
  });
  await c.check('cv crop_mask', (checks) => {
    const area = byK(CROP_K);
    if (!checks.require('k', !!area, `cases.json has no interested area for k = ${CROP_K}`)) return;
    const [w, h] = cv.crop_mask_resample_to_wh;
    const got = up255(resampleLanczos(cropImage(mask(), area!.abcd), w, h), 127);
    checks.exact('crop_mask_resampled_up255', got.data, file.u8('crop_mask_resampled_up255'));
  });
  await c.check('cv set_image_shape_ceil', (checks) => {
    cv.set_image_shape_ceil.forEach((e, i) => {
      checks.exact(`[${i}] get_shape_ceil`, [getShapeCeil(e.hw[0], e.hw[1])], [e.get_shape_ceil]);
      if (e.result_hw) {
        const got = shapeCeilSize(e.hw[0], e.hw[1], e.shape_ceil);
        checks.exact(`[${i}] result_hw`, [got.height, got.width], e.result_hw);
      }
    });
  });
  await c.check('cv resample', (checks) => {
    for (const name of Object.keys(cv).filter((k) => k.startsWith('resample.'))) {
      const item = cv[name as `resample.${string}`];
      const src = sourceView(file, item.src);
      checks.exact(name, resampleLanczos(src, item.width, item.height).data, file.u8(name));
    }
  });
  await c.check('cv hwc3', (checks) => {
    checks.exact('hwc3.rgb_out', hwc3(image(file, 'hwc3.rgba_in')).data, file.u8('hwc3.rgb_out'));
  });
  for (const item of cv.outpaint) {
    await c.check(`cv outpaint${item.case}`, (checks) => {
      const [l, t, r, b] = item.distance_ltrb ?? [0, 0, 0, 0];
      const out = applyOutpaint(img(), mask(), item.selections, { left: l, top: t, right: r, bottom: b });
      checks.exact('out_hw', [out.image.height, out.image.width], item.out_hw);
      checks.exact(`outpaint${item.case}.image`, out.image.data, file.u8(`outpaint${item.case}.image`));
      checks.exact(`outpaint${item.case}.mask`, out.mask.data, file.u8(`outpaint${item.case}.mask`));
    });
  }
  await c.check('cv post_process', (checks) => {
    const area = byK(CROP_K);
    if (!checks.require('k', !!area, `cases.json has no interested area for k = ${CROP_K}`)) return;
    const got = inpaintPostProcess(image(file, 'post_process.generated_u8'), img(), area!.abcd, morphologicalOpen(mask()));
    checks.exact('post_process.result_u8', got.data, file.u8('post_process.result_u8'));
  });
}

/** A `src` of cases.json (`image_u8`, `image_u8[:24,:32]`) as an image: a tensor or its top-left slice. */
function sourceView(file: CaseFile, src: string): U8Image {
  const m = /^([\w.]+)(?:\[:(\d+),\s*:(\d+)\])?$/.exec(src);
  if (!m) throw new Error(`cannot read resample source ${src}`);
  const whole = image(file, m[1]);
  if (!m[2]) return whole;
  return cropImage(whole, [0, Number(m[2]), 0, Number(m[3])]);
}
