/**
 * `GenerationJob`: the domain form of one generate request, after validation and the server-side
 * normalisation of api-contract §2.2 (preset merged, tab detected, forced flags, seeds resolved,
 * performance values forced). This is what the API stores with the task and the worker hands to
 * the engine. It is plain JSON (seeds are decimal strings, never JS numbers above 2^53) because
 * it travels through the database and the queue.
 *
 * What is deliberately NOT resolved here, because it needs files or runs per image in the engine:
 * wildcards (`__name__`), arrays (`[[a,b]]`), `<lora:name:w>` tags (they are matched against the
 * LoRA files on disk), style application with "Random Style" (seeded per image), the Fooocus V2
 * expansion, and the inpaint additional prompt (prepended only when inpainting actually runs).
 * `promptText.ts` and `../styles/applyStyles.ts` provide those steps.
 */
import type {
  ControlNetType,
  InpaintEngine,
  MaskModel,
  MetadataScheme,
  OutpaintDirection,
  Performance,
  RefinerSwapMethod,
  SamplerName,
  SchedulerName,
  UovMethod,
} from './fooocusConstants.ts';

export const GENERATION_JOB_VERSION = 1 as const;

/** Fooocus' input tabs; a client may send another string, which is kept (and selects nothing). */
export type CurrentTab = 'uov' | 'inpaint' | 'ip' | 'enhance' | (string & {});

/**
 * An input image. The API turns `url`/`base64` sources into `stored` ones (fetched, decoded,
 * re-encoded, saved under `inputs/` by content hash) before the job is dispatched.
 */
export type ImageSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; data: string; mediaType: string | null }
  | { kind: 'stored'; key: string; sha256?: string; url?: string };

export interface LoraSpec {
  /** File name relative to the loras folder. */
  name: string;
  weight: number;
}

export interface ImagePromptSlot {
  image: ImageSource | null;
  /** Stop at (fraction of steps), 0..1. */
  stop: number;
  /** Weight, 0..2. */
  weight: number;
  type: ControlNetType;
}

export interface EnhanceTab {
  enabled: boolean;
  maskDinoPrompt: string;
  prompt: string;
  negativePrompt: string;
  maskModel: MaskModel;
  maskClothCategory: 'full' | 'upper' | 'lower';
  maskSamModel: 'vit_b' | 'vit_l' | 'vit_h';
  maskTextThreshold: number;
  maskBoxThreshold: number;
  maskSamMaxDetections: number;
  inpaintDisableInitialLatent: boolean;
  inpaintEngine: InpaintEngine;
  inpaintStrength: number;
  inpaintRespectiveField: number;
  inpaintErodeOrDilate: number;
  maskInvert: boolean;
}

export interface GenerationJob {
  version: typeof GENERATION_JOB_VERSION;
  /** Detected input tab (§2.2 step 9): enhance > ip (slot 0 only) > uov > inpaint > the client's value. */
  currentTab: CurrentTab;
  /** Preset that was merged, or "initial" for none. */
  preset: string;

  // --- text ------------------------------------------------------------------------------------
  /** The prompt as submitted (after the preset rule): multi-line, wildcards and LoRA tags unresolved. */
  prompt: string;
  negativePrompt: string;
  /** Selected styles in request order without "Fooocus V2"; may contain "Random Style". */
  styles: string[];
  /** "Fooocus V2" was selected: expand the prompt (the engine skips it for an empty prompt). */
  useExpansion: boolean;
  readWildcardsInOrder: boolean;

  // --- sampling --------------------------------------------------------------------------------
  performance: Performance;
  /** Text-to-image steps: the performance's steps, or `overwrite_step` when > 0. */
  steps: number;
  /** Vary/upscale steps: the performance's UOV steps, or `overwrite_step` when > 0. */
  uovSteps: number;
  /**
   * Step at which the refiner takes over (text-to-image, vary, inpaint): `overwrite_switch` when
   * > 0, else Python `round(performanceSteps × refinerSwitch)` (half to even). As in Fooocus it is
   * computed from the performance's steps even when `overwrite_step` changed `steps`.
   */
  refinerSwitchStep: number;
  /** The same for upscale (non-fast), where Fooocus computes it from the UOV steps. */
  uovRefinerSwitchStep: number;
  sampler: SamplerName;
  scheduler: SchedulerName;
  /** CFG scale (`guidance_scale`); 1.0 in the fast modes. */
  cfg: number;
  sharpness: number;
  /** CFG mimicking from TSNR (`adaptive_cfg`). */
  adaptiveCfg: number;
  admScalers: { positive: number; negative: number; end: number };
  clipSkip: number;
  freeu: { enabled: boolean; b1: number; b2: number; s1: number; s2: number };

  // --- size and seeds --------------------------------------------------------------------------
  /** Aspect ratio as recorded (`"1152×896"`). */
  aspectRatio: string;
  /** Final size: the aspect ratio, or `overwrite_width/height` when > 0. */
  width: number;
  height: number;
  imageNumber: number;
  /** Resolved base seed, decimal, 0..2^63−1. */
  seed: string;
  /** Seed of each image: (seed + i) mod 2^63, or seed for all when `disableSeedIncrement`. */
  imageSeeds: string[];
  disableSeedIncrement: boolean;

  // --- models ----------------------------------------------------------------------------------
  baseModel: string;
  /** Refiner checkpoint, or null when off ("None", same as base, or a fast performance mode). */
  refinerModel: string | null;
  refinerSwitch: number;
  refinerSwapMethod: RefinerSwapMethod;
  /** VAE file, or "Default (model)" for the checkpoint's own. */
  vae: string;
  /** Enabled user LoRAs with a file ("None" slots dropped), slot order, at most 5. */
  loras: LoraSpec[];
  /** The performance mode's LoRA (Extreme Speed, Lightning, Hyper-SD), applied after the user's and the prompt's LoRAs. */
  performanceLora: LoraSpec | null;

  // --- output ----------------------------------------------------------------------------------
  output: {
    /** Encoder to use. */
    format: 'png' | 'jpeg' | 'webp';
    /** File extension (`jpg` when the client asked for jpg). */
    extension: 'png' | 'jpeg' | 'jpg' | 'webp';
    /** Output names become `{saveName}-{i}.{ext}`; null = generated names. */
    saveName: string | null;
    saveMetadata: boolean;
    metadataScheme: MetadataScheme;
    blackOutNsfw: boolean;
    saveFinalEnhancedImageOnly: boolean;
    generateImageGrid: boolean;
    disablePreview: boolean;
    disableIntermediateResults: boolean;
  };

  // --- image features --------------------------------------------------------------------------
  uov: {
    method: UovMethod;
    image: ImageSource | null;
    /** Factor for "Upscale (Custom)" (FooocusAPI rewrites the method to `Upscale ({x}x)`), 1..5. */
    upscaleMultiple: number;
    /** `overwrite_vary_strength` when > 0, else null (Fooocus: 0.5 subtle / 0.85 strong). */
    varyStrength: number | null;
    /** `overwrite_upscale_strength` when > 0, else null (Fooocus: 0.382). */
    upscaleStrength: number | null;
  };
  inpaint: {
    image: ImageSource | null;
    mask: ImageSource | null;
    additionalPrompt: string;
    outpaintSelections: OutpaintDirection[];
    outpaintDistance: { left: number; top: number; right: number; bottom: number };
    engine: InpaintEngine;
    strength: number;
    respectiveField: number;
    /** Forced: true iff a mask was supplied. */
    advancedMasking: boolean;
    /** Forced false (FooocusAPI cannot invert via the API). */
    invertMask: boolean;
    erodeOrDilate: number;
    disableInitialLatent: boolean;
    debuggingPreprocessor: boolean;
  };
  /** Exactly 4 slots (padded / truncated). */
  imagePrompts: ImagePromptSlot[];
  controlnet: {
    softness: number;
    cannyLowThreshold: number;
    cannyHighThreshold: number;
    debuggingPreprocessor: boolean;
    skippingPreprocessor: boolean;
    mixingImagePromptAndVaryUpscale: boolean;
    mixingImagePromptAndInpaint: boolean;
  };
  enhance: {
    enabled: boolean;
    image: ImageSource | null;
    uovMethod: UovMethod;
    uovProcessingOrder: 'Before First Enhancement' | 'After Last Enhancement';
    uovPromptType: 'Original Prompts' | 'Last Filled Enhancement Prompts';
    /** Exactly 3 tabs (padded with disabled ones). */
    tabs: EnhanceTab[];
    debuggingMasks: boolean;
    debuggingDino: boolean;
    dinoErodeOrDilate: number;
  };

  // --- delivery and records --------------------------------------------------------------------
  /** Resolved webhook URL ("" = none). */
  webhookUrl: string;
  /**
   * FooocusAPI's `req_params` (§2.2 step 11): the processed request in wire form — resolved seed
   * (decimal string), `×` aspect ratio, forced flags, detected tab, preset-merged values, flat
   * `loras` array, 4 controlnet slots, 3 enhance tabs. Image fields still hold what the client
   * sent ("" when absent); the API replaces them with `/inputs/{sha256}.png` URLs (step 13).
   */
  reqParams: Record<string, unknown>;
}

/** All image sources of a job, with a setter each — for the API's fetch/store pass. */
export function jobImageSlots(job: GenerationJob): Array<{
  field: string;
  get: () => ImageSource | null;
  set: (v: ImageSource | null) => void;
}> {
  const slots = [
    { field: 'uov_input_image', get: () => job.uov.image, set: (v: ImageSource | null) => (job.uov.image = v) },
    { field: 'inpaint_input_image', get: () => job.inpaint.image, set: (v: ImageSource | null) => (job.inpaint.image = v) },
    { field: 'inpaint_mask_image_upload', get: () => job.inpaint.mask, set: (v: ImageSource | null) => (job.inpaint.mask = v) },
    { field: 'enhance_input_image', get: () => job.enhance.image, set: (v: ImageSource | null) => (job.enhance.image = v) },
  ];
  job.imagePrompts.forEach((slot, i) => {
    slots.push({ field: `controlnet_image.${i}.cn_img`, get: () => slot.image, set: (v) => (slot.image = v) });
  });
  return slots;
}
