/**
 * Fooocus 2.5.5 constants that the request side needs (api-contract §7; Fooocus
 * `modules/flags.py`, `modules/constants.py`, `modules/config.py`). FooocusAPI bundles the same
 * files, so these are the values its clients see. Kept in one module so the schema, the
 * normaliser and the engine agree on one list.
 */

export const PERFORMANCES = ['Quality', 'Speed', 'Extreme Speed', 'Lightning', 'Hyper-SD'] as const;
export type Performance = (typeof PERFORMANCES)[number];

export const SAMPLER_NAMES = [
  'euler', 'euler_ancestral', 'heun', 'heunpp2', 'dpm_2', 'dpm_2_ancestral', 'lms', 'dpm_fast',
  'dpm_adaptive', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'dpmpp_sde_gpu', 'dpmpp_2m', 'dpmpp_2m_sde',
  'dpmpp_2m_sde_gpu', 'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'ddpm', 'lcm', 'tcd', 'restart', 'ddim',
  'uni_pc', 'uni_pc_bh2',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export const SCHEDULER_NAMES = [
  'normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform', 'lcm', 'turbo',
  'align_your_steps', 'tcd', 'edm_playground_v2.5',
] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** `flags.sdxl_aspect_ratios` (26, `W*H`). Neither API validates membership; listed for docs and UIs. */
export const SDXL_ASPECT_RATIOS = [
  '704*1408', '704*1344', '768*1344', '768*1280', '832*1216', '832*1152', '896*1152', '896*1088',
  '960*1088', '960*1024', '1024*1024', '1024*960', '1088*960', '1088*896', '1152*896', '1152*832',
  '1216*832', '1280*768', '1344*768', '1344*704', '1408*704', '1472*704', '1536*640', '1600*640',
  '1664*576', '1728*576',
] as const;

/** `flags.uov_list` plus the APIs' `Upscale (Custom)`. */
export const UOV_METHODS = [
  'Disabled', 'Vary (Subtle)', 'Vary (Strong)', 'Upscale (1.5x)', 'Upscale (2x)', 'Upscale (Fast 2x)',
  'Upscale (Custom)',
] as const;
export type UovMethod = (typeof UOV_METHODS)[number];

export const OUTPAINT_DIRECTIONS = ['Left', 'Right', 'Top', 'Bottom'] as const;
export type OutpaintDirection = (typeof OUTPAINT_DIRECTIONS)[number];

/** ControlNet / image-prompt types (`flags.ip_list`). */
export const CONTROLNET_TYPES = ['ImagePrompt', 'FaceSwap', 'PyraCanny', 'CPDS'] as const;
export type ControlNetType = (typeof CONTROLNET_TYPES)[number];

/** Fooocus UI per-type defaults `(stop, weight)` (`flags.default_parameters`, §7.5). */
export const CONTROLNET_TYPE_DEFAULTS: Readonly<Record<ControlNetType, { stop: number; weight: number }>> = {
  ImagePrompt: { stop: 0.5, weight: 0.6 },
  FaceSwap: { stop: 0.9, weight: 0.75 },
  PyraCanny: { stop: 0.5, weight: 1.0 },
  CPDS: { stop: 0.5, weight: 1.0 },
};

export const METADATA_SCHEMES = ['fooocus', 'a1111'] as const;
export type MetadataScheme = (typeof METADATA_SCHEMES)[number];

/** Fooocus' `OutputFormat` plus `jpg`, which Fooocus saves as JPEG through PIL's extension lookup. */
export const OUTPUT_FORMATS = ['png', 'jpeg', 'jpg', 'webp'] as const;
export type OutputFormatName = (typeof OUTPUT_FORMATS)[number];

export const INPAINT_ENGINES = ['None', 'v1', 'v2.5', 'v2.6'] as const;
export type InpaintEngine = (typeof INPAINT_ENGINES)[number];

export const REFINER_SWAP_METHODS = ['joint', 'separate', 'vae'] as const;
export type RefinerSwapMethod = (typeof REFINER_SWAP_METHODS)[number];

export const MASK_MODELS = [
  'u2net', 'u2netp', 'u2net_human_seg', 'u2net_cloth_seg', 'silueta', 'isnet-general-use', 'isnet-anime', 'sam',
] as const;
export type MaskModel = (typeof MASK_MODELS)[number];

export const CLOTH_CATEGORIES = ['full', 'upper', 'lower'] as const;
export const SAM_MODELS = ['vit_b', 'vit_l', 'vit_h'] as const;

export const ENHANCE_UOV_PROCESSING_ORDERS = ['Before First Enhancement', 'After Last Enhancement'] as const;
export const ENHANCE_UOV_PROMPT_TYPES = ['Original Prompts', 'Last Filled Enhancement Prompts'] as const;

export const MIN_SEED = 0n;
/** `constants.MAX_SEED`; seeds per image wrap modulo MAX_SEED + 1 = 2^63. */
export const MAX_SEED = 2n ** 63n - 1n;
export const SEED_MODULUS = MAX_SEED + 1n;

export const DEFAULT_MAX_IMAGE_NUMBER = 32;
export const DEFAULT_MAX_LORA_NUMBER = 5;
export const DEFAULT_CONTROLNET_IMAGE_COUNT = 4;
export const DEFAULT_ENHANCE_TABS = 3;
export const CLIP_SKIP_MAX = 12;
export const DEFAULT_VAE = 'Default (model)';

export interface PerformanceSpec {
  /** `flags.Steps`. */
  steps: number;
  /** `flags.StepsUOV` (vary/upscale). */
  uovSteps: number;
  /** `PerformanceLoRA` appended after the user's LoRAs, or null. */
  lora: { name: string; weight: number } | null;
  /** Values the worker forces (`set_lcm_defaults` & co.), or null for Quality/Speed. */
  forced: null | {
    sampler: SamplerName;
    scheduler: SchedulerName;
  };
}

/** §7.1 / pipeline.md §2. */
export const PERFORMANCE_SPECS: Readonly<Record<Performance, PerformanceSpec>> = {
  Quality: { steps: 60, uovSteps: 36, lora: null, forced: null },
  Speed: { steps: 30, uovSteps: 18, lora: null, forced: null },
  'Extreme Speed': {
    steps: 8,
    uovSteps: 8,
    lora: { name: 'sdxl_lcm_lora.safetensors', weight: 1.0 },
    forced: { sampler: 'lcm', scheduler: 'lcm' },
  },
  Lightning: {
    steps: 4,
    uovSteps: 4,
    lora: { name: 'sdxl_lightning_4step_lora.safetensors', weight: 1.0 },
    forced: { sampler: 'euler', scheduler: 'sgm_uniform' },
  },
  'Hyper-SD': {
    steps: 4,
    uovSteps: 4,
    lora: { name: 'sdxl_hyper_sd_4step_lora.safetensors', weight: 0.8 },
    forced: { sampler: 'dpmpp_sde_gpu', scheduler: 'karras' },
  },
};

/**
 * What the fast modes (`Performance.has_restricted_features`) force besides sampler/scheduler:
 * refiner off, sharpness 0, cfg 1, adaptive cfg 1, refiner switch 1, ADM 1/1/0 (§7.1).
 */
export const FAST_MODE_FORCED = {
  refinerModel: 'None',
  sharpness: 0.0,
  cfg: 1.0,
  adaptiveCfg: 1.0,
  refinerSwitch: 1.0,
  admScalerPositive: 1.0,
  admScalerNegative: 1.0,
  admScalerEnd: 0.0,
} as const;

export function hasRestrictedFeatures(p: Performance): boolean {
  return PERFORMANCE_SPECS[p].forced !== null;
}

/** Image strings FooocusAPI's `read_input_image` treats as "no image" (§2.2 step 6). */
export const NO_IMAGE_MARKERS: ReadonlySet<string> = new Set(['', 'None', 'null', 'string', 'none']);
