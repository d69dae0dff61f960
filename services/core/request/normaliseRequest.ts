/**
 * Server-side normalisation of a validated `CommonRequest` into a `GenerationJob`, in the order
 * FooocusAPI applies it (api-contract §2.2, `pre_worker` / `process_params`), followed by what
 * Fooocus' worker does before sampling (§7.1: performance modes, overrides, seeds per image):
 *
 *   0. binary response (`Accept: image/*`) forces image_number = 1 (§1.1 mode A)
 *   1. webhook_url ""/null ⇒ the server default
 *   2. preset merge when preset ≠ "initial" (§2.4; unknown preset ⇒ 422)
 *      — then every style name must exist (FooocusAPI: the task silently yields nothing) ⇒ 422
 *   3. aspect ratio `*` → `×`, parsed, size-checked (⇒ 422)
 *   4. seed: −1/null/out of range ⇒ random (injected `random`)
 *   5. forced flags: input_image_checkbox = true, inpaint_advanced_masking_checkbox = mask given,
 *      invert_mask_checkbox = false
 *   6. image strings classified (fetching/decoding is the API's job)
 *   7. loras padded / truncated to 5, recorded flat
 *   8. controlnet_image padded / truncated to 4
 *   9. current_tab: enhance image > controlnet slot 0 image > uov image > inpaint image > as sent
 *  10. enhance_ctrls padded to 3
 *  11. `reqParams` snapshot of the processed request
 * then: base == refiner ⇒ refiner off; fast performance modes force sampler, scheduler, cfg 1,
 * sharpness 0, adaptive cfg 1, ADM 1/1/0, refiner off, switch 1 and add their LoRA; steps from
 * the performance table with `overwrite_*`; seeds per image with the 2^63 wrap.
 *
 * Pure apart from the injected seed source: the same request, options and seeds give the same job.
 */
import {
  CONTROLNET_TYPE_DEFAULTS,
  DEFAULT_CONTROLNET_IMAGE_COUNT,
  DEFAULT_ENHANCE_TABS,
  DEFAULT_MAX_LORA_NUMBER,
  FAST_MODE_FORCED,
  PERFORMANCE_SPECS,
} from './fooocusConstants.ts';
import { ValidationError } from '../errors.ts';
import { applyPreset, type ApplyPresetOptions } from '../presets/applyPreset.ts';
import { getPreset, type PresetMap } from '../presets/loadPresets.ts';
import { defaultStyleCatalog } from '../styles/styleCatalog.ts';
import { checkImageSize, resolveAspectRatio, type SizeLimits } from './aspectRatio.ts';
import {
  defaultEnhanceCtrl,
  defaultImagePrompt,
  type CommonRequest,
  type EnhanceCtrlWire,
  type ImagePromptWire,
  type LoraWire,
} from './commonRequest.ts';
import {
  GENERATION_JOB_VERSION,
  type CurrentTab,
  type EnhanceTab,
  type GenerationJob,
  type ImagePromptSlot,
  type LoraSpec,
} from './generationJob.ts';
import { isNoImage, toImageSource } from './imageInput.ts';
import { cryptoSeedRandom, imageSeeds, resolveSeed, type SeedRandom } from './seeds.ts';

export interface NormaliseOptions extends SizeLimits {
  /** Legal style names (the catalog). Default: the bundled catalog. */
  styles?: { has(name: string): boolean };
  /** Loaded presets. Default: none, so any preset other than "initial" is a 422. */
  presets?: PresetMap;
  /** Seed source for `image_seed` −1/null/out of range, 0..2^63−1. Default: CSPRNG. */
  random?: SeedRandom;
  /** Server default for an empty `webhook_url` (FooocusAPI: `--webhook-url`). Default "". */
  defaultWebhookUrl?: string;
  /** The response is binary (`Accept: image/<ext>`): FooocusAPI forces one image. Default false. */
  binaryResponse?: boolean;
  /** See `ApplyPresetOptions.cfgScaleTarget`. Default 'adaptive_cfg' (FooocusAPI). */
  presetCfgScaleTarget?: ApplyPresetOptions['cfgScaleTarget'];
}

const EMPTY_PRESETS: PresetMap = new Map();

export function normaliseRequest(input: CommonRequest, options: NormaliseOptions = {}): GenerationJob {
  let r: CommonRequest = { ...input };

  // 0–1. Response mode and webhook.
  if (options.binaryResponse) r.image_number = 1;
  const webhookUrl = r.webhook_url === null || r.webhook_url === '' ? (options.defaultWebhookUrl ?? '') : r.webhook_url;
  r.webhook_url = webhookUrl;

  // 2. Preset, then style names (presets may bring styles).
  if (r.preset !== 'initial') {
    const preset = getPreset(options.presets ?? EMPTY_PRESETS, r.preset);
    r = applyPreset(r, preset, { cfgScaleTarget: options.presetCfgScaleTarget }).request;
  }
  checkStyleNames(r.style_selections, options.styles ?? defaultStyleCatalog());

  // 3. Aspect ratio (the override check comes with the overrides below).
  const aspect = resolveAspectRatio(r.aspect_ratios_selection, options);

  // 4. Seed.
  const seed = resolveSeed(r.image_seed, options.random ?? cryptoSeedRandom);

  // 5. Forced flags.
  const maskGiven = !isNoImage(r.inpaint_mask_image_upload);

  // 7–8, 10. Slots.
  const loraSlots = padLoras(r.loras);
  const cnSlots = padControlnet(r.controlnet_image);
  const enhanceSlots = padEnhance(r.enhance_ctrls);

  // 9. Tab detection.
  const currentTab = detectCurrentTab(r);

  // 11. The record.
  const reqParams = buildReqParams(r, {
    aspectLabel: aspect.label,
    seed,
    maskGiven,
    currentTab,
    loraSlots,
    cnSlots,
    enhanceSlots,
  });

  // Worker-side: refiner, performance mode, overrides.
  const spec = PERFORMANCE_SPECS[r.performance_selection];
  let refinerModel = r.refiner_model_name;
  if (refinerModel === r.base_model_name) refinerModel = 'None';
  let sampler = r.sampler_name;
  let scheduler = r.scheduler_name;
  let cfg = r.guidance_scale;
  let sharpness = r.sharpness;
  let adaptiveCfg = r.adaptive_cfg;
  let refinerSwitch = r.refiner_switch;
  let admScalers = { positive: r.adm_scaler_positive, negative: r.adm_scaler_negative, end: r.adm_scaler_end };
  if (spec.forced) {
    sampler = spec.forced.sampler;
    scheduler = spec.forced.scheduler;
    refinerModel = FAST_MODE_FORCED.refinerModel;
    sharpness = FAST_MODE_FORCED.sharpness;
    cfg = FAST_MODE_FORCED.cfg;
    adaptiveCfg = FAST_MODE_FORCED.adaptiveCfg;
    refinerSwitch = FAST_MODE_FORCED.refinerSwitch;
    admScalers = {
      positive: FAST_MODE_FORCED.admScalerPositive,
      negative: FAST_MODE_FORCED.admScalerNegative,
      end: FAST_MODE_FORCED.admScalerEnd,
    };
  }

  const steps = r.overwrite_step > 0 ? r.overwrite_step : spec.steps;
  const uovSteps = r.overwrite_step > 0 ? r.overwrite_step : spec.uovSteps;
  const switchStep = (base: number) => (r.overwrite_switch > 0 ? r.overwrite_switch : roundHalfEven(base * refinerSwitch));

  let width = aspect.width;
  let height = aspect.height;
  if (r.overwrite_width > 0) width = r.overwrite_width;
  if (r.overwrite_height > 0) height = r.overwrite_height;
  if (r.overwrite_width > 0 || r.overwrite_height > 0) {
    const loc = r.overwrite_width > 0 ? 'overwrite_width' : 'overwrite_height';
    checkImageSize(width, height, [loc], r[loc], options);
  }

  const isEnhance = currentTab === 'enhance';
  const imageNumber = isEnhance ? 1 : r.image_number;
  const seeds = imageSeeds(seed, imageNumber, r.disable_seed_increment);

  const loras: LoraSpec[] = loraSlots
    .filter((l) => l.enabled && l.model_name !== 'None')
    .map((l) => ({ name: l.model_name, weight: l.weight }));

  const format = r.output_format === 'jpg' ? 'jpeg' : r.output_format;

  return {
    version: GENERATION_JOB_VERSION,
    currentTab,
    preset: r.preset,

    prompt: r.prompt,
    negativePrompt: r.negative_prompt,
    styles: r.style_selections.filter((s) => s !== 'Fooocus V2'),
    useExpansion: r.style_selections.includes('Fooocus V2'),
    readWildcardsInOrder: r.read_wildcards_in_order,

    performance: r.performance_selection,
    steps,
    uovSteps,
    refinerSwitchStep: switchStep(spec.steps),
    uovRefinerSwitchStep: switchStep(spec.uovSteps),
    sampler,
    scheduler,
    cfg,
    sharpness,
    adaptiveCfg,
    admScalers,
    clipSkip: r.clip_skip,
    freeu: { enabled: r.freeu_enabled, b1: r.freeu_b1, b2: r.freeu_b2, s1: r.freeu_s1, s2: r.freeu_s2 },

    aspectRatio: aspect.label,
    width,
    height,
    imageNumber,
    seed: seed.toString(),
    imageSeeds: seeds.map(String),
    disableSeedIncrement: r.disable_seed_increment,

    baseModel: r.base_model_name,
    refinerModel: refinerModel === 'None' ? null : refinerModel,
    refinerSwitch,
    refinerSwapMethod: r.refiner_swap_method,
    vae: r.vae_name,
    loras,
    performanceLora: spec.lora ? { ...spec.lora } : null,

    output: {
      format,
      extension: r.output_format,
      saveName: r.save_name ?? null,
      saveMetadata: r.save_metadata_to_images,
      metadataScheme: r.metadata_scheme,
      blackOutNsfw: r.black_out_nsfw,
      saveFinalEnhancedImageOnly: r.save_final_enhanced_image_only,
      generateImageGrid: r.generate_image_grid,
      disablePreview: r.disable_preview,
      disableIntermediateResults: r.disable_intermediate_results,
    },

    uov: {
      method: r.uov_method,
      image: toImageSource(r.uov_input_image),
      upscaleMultiple: r.upscale_multiple,
      varyStrength: r.overwrite_vary_strength > 0 ? r.overwrite_vary_strength : null,
      upscaleStrength: r.overwrite_upscale_strength > 0 ? r.overwrite_upscale_strength : null,
    },
    inpaint: {
      image: toImageSource(r.inpaint_input_image),
      mask: toImageSource(r.inpaint_mask_image_upload),
      additionalPrompt: r.inpaint_additional_prompt,
      outpaintSelections: [...r.outpaint_selections],
      outpaintDistance: {
        left: r.outpaint_distance[0],
        top: r.outpaint_distance[1],
        right: r.outpaint_distance[2],
        bottom: r.outpaint_distance[3],
      },
      engine: r.inpaint_engine,
      strength: r.inpaint_strength,
      respectiveField: r.inpaint_respective_field,
      advancedMasking: maskGiven,
      invertMask: false,
      erodeOrDilate: r.inpaint_erode_or_dilate,
      disableInitialLatent: r.inpaint_disable_initial_latent,
      debuggingPreprocessor: r.debugging_inpaint_preprocessor,
    },
    imagePrompts: cnSlots.map(toImagePromptSlot),
    controlnet: {
      softness: r.controlnet_softness,
      cannyLowThreshold: r.canny_low_threshold,
      cannyHighThreshold: r.canny_high_threshold,
      debuggingPreprocessor: r.debugging_cn_preprocessor,
      skippingPreprocessor: r.skipping_cn_preprocessor,
      mixingImagePromptAndVaryUpscale: r.mixing_image_prompt_and_vary_upscale,
      mixingImagePromptAndInpaint: r.mixing_image_prompt_and_inpaint,
    },
    enhance: {
      enabled: r.enhance_checkbox,
      image: toImageSource(r.enhance_input_image),
      uovMethod: r.enhance_uov_method,
      uovProcessingOrder: r.enhance_uov_processing_order,
      uovPromptType: r.enhance_uov_prompt_type,
      tabs: enhanceSlots.map(toEnhanceTab),
      debuggingMasks: r.debugging_enhance_masks_checkbox,
      debuggingDino: r.debugging_dino,
      dinoErodeOrDilate: r.dino_erode_or_dilate,
    },

    webhookUrl,
    reqParams,
  };
}

/**
 * §2.2 step 9: the first match wins — an enhance image, an image in controlnet slot 0 (only
 * slot 0), an upscale/vary image, an inpaint image; otherwise the client's `current_tab`.
 */
export function detectCurrentTab(
  r: Pick<CommonRequest, 'enhance_input_image' | 'controlnet_image' | 'uov_input_image' | 'inpaint_input_image' | 'current_tab'>,
): CurrentTab {
  if (!isNoImage(r.enhance_input_image)) return 'enhance';
  if (r.controlnet_image.length > 0 && !isNoImage(r.controlnet_image[0].cn_img)) return 'ip';
  if (!isNoImage(r.uov_input_image)) return 'uov';
  if (!isNoImage(r.inpaint_input_image)) return 'inpaint';
  return r.current_tab;
}

/** Python's `round()` on a float: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function checkStyleNames(styles: readonly string[], catalog: { has(name: string): boolean }): void {
  const issues = styles.flatMap((name, i) =>
    catalog.has(name)
      ? []
      : [
          {
            type: 'style_unknown',
            loc: ['body', 'style_selections', i],
            msg: `Unknown style '${name}'; GET /v1/engines/styles lists the available names`,
            input: name,
          },
        ],
  );
  if (issues.length > 0) throw new ValidationError(issues);
}

function padLoras(loras: readonly LoraWire[]): LoraWire[] {
  const out = loras.slice(0, DEFAULT_MAX_LORA_NUMBER).map((l) => ({ ...l }));
  while (out.length < DEFAULT_MAX_LORA_NUMBER) out.push({ enabled: true, model_name: 'None', weight: 1.0 });
  return out;
}

function padControlnet(slots: readonly ImagePromptWire[]): ImagePromptWire[] {
  const out = slots.slice(0, DEFAULT_CONTROLNET_IMAGE_COUNT).map((s) => ({ ...s }));
  while (out.length < DEFAULT_CONTROLNET_IMAGE_COUNT) out.push(defaultImagePrompt());
  return out;
}

function padEnhance(tabs: readonly EnhanceCtrlWire[]): EnhanceCtrlWire[] {
  const out = tabs.slice(0, DEFAULT_ENHANCE_TABS).map((t) => ({ ...t }));
  while (out.length < DEFAULT_ENHANCE_TABS) out.push(defaultEnhanceCtrl());
  return out;
}

function toImagePromptSlot(s: ImagePromptWire): ImagePromptSlot {
  const defaults = CONTROLNET_TYPE_DEFAULTS[s.cn_type];
  return {
    image: toImageSource(s.cn_img),
    stop: s.cn_stop ?? defaults.stop,
    weight: s.cn_weight ?? defaults.weight,
    type: s.cn_type,
  };
}

function toEnhanceTab(t: EnhanceCtrlWire): EnhanceTab {
  return {
    enabled: t.enhance_enabled,
    maskDinoPrompt: t.enhance_mask_dino_prompt,
    prompt: t.enhance_prompt,
    negativePrompt: t.enhance_negative_prompt,
    maskModel: t.enhance_mask_model,
    maskClothCategory: t.enhance_mask_cloth_category,
    maskSamModel: t.enhance_mask_sam_model,
    maskTextThreshold: t.enhance_mask_text_threshold,
    maskBoxThreshold: t.enhance_mask_box_threshold,
    maskSamMaxDetections: t.enhance_mask_sam_max_detections,
    inpaintDisableInitialLatent: t.enhance_inpaint_disable_initial_latent,
    inpaintEngine: t.enhance_inpaint_engine,
    inpaintStrength: t.enhance_inpaint_strength,
    inpaintRespectiveField: t.enhance_inpaint_respective_field,
    inpaintErodeOrDilate: t.enhance_inpaint_erode_or_dilate,
    maskInvert: t.enhance_mask_invert,
  };
}

function buildReqParams(
  r: CommonRequest,
  p: {
    aspectLabel: string;
    seed: bigint;
    maskGiven: boolean;
    currentTab: CurrentTab;
    loraSlots: LoraWire[];
    cnSlots: ImagePromptWire[];
    enhanceSlots: EnhanceCtrlWire[];
  },
): Record<string, unknown> {
  const image = (v: string | null) => (isNoImage(v) ? '' : v);
  return {
    ...structuredClone(r),
    aspect_ratios_selection: p.aspectLabel,
    image_seed: p.seed.toString(),
    input_image_checkbox: true,
    inpaint_advanced_masking_checkbox: p.maskGiven,
    invert_mask_checkbox: false,
    current_tab: p.currentTab,
    loras: p.loraSlots.flatMap((l) => [l.enabled, l.model_name, l.weight]),
    controlnet_image: p.cnSlots.map((s) => {
      const defaults = CONTROLNET_TYPE_DEFAULTS[s.cn_type];
      return {
        cn_img: image(s.cn_img),
        cn_stop: s.cn_stop ?? defaults.stop,
        cn_weight: s.cn_weight ?? defaults.weight,
        cn_type: s.cn_type,
      };
    }),
    enhance_ctrls: p.enhanceSlots.map((t) => ({ ...t })),
    uov_input_image: image(r.uov_input_image),
    inpaint_input_image: image(r.inpaint_input_image),
    inpaint_mask_image_upload: image(r.inpaint_mask_image_upload),
    enhance_input_image: image(r.enhance_input_image),
    save_name: r.save_name ?? null,
  };
}
