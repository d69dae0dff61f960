/**
 * What the engine is asked to do, and what it reports. The engine knows
 * checkpoints, prompts and pixels — not tasks, HTTP or queues; the worker
 * translates a task's GenerationJob into this.
 */
import type { FreeuParams } from './graphs/freeu.ts';
import type { ImageFormat } from './image/encodeImage.ts';

export interface AdmScalers {
  /** Fooocus default 1.5. */
  positive: number;
  /** Fooocus default 0.8. */
  negative: number;
  /** Fraction of the schedule that uses the scaled sizes; Fooocus default 0.3. */
  end: number;
}

export interface TextToImageJob {
  /** Absolute path of an SDXL single-file .safetensors checkpoint. */
  checkpoint: string;
  /** Positive prompt workloads (after styles); each may use (text:1.2) weighting. */
  positive: string[];
  negative: string[];
  /** How many leading positive workloads add into the pooled vector (default: all). */
  positiveTopK?: number;
  negativeTopK?: number;
  width: number;
  height: number;
  steps: number;
  sampler: string;
  scheduler: string;
  /** CFG scale; 1 skips the negative entirely. */
  cfg: number;
  /** Fooocus sharpness (default 2; 0 disables the filter). */
  sharpness?: number;
  /** Fooocus adaptive CFG threshold (default 7). */
  adaptiveCfg?: number;
  /** Default {1.5, 0.8, 0.3}; {1,1,0} disables the scaling. */
  adm?: AdmScalers;
  /** 1..12, default 2 (SDXL's penultimate layer). */
  clipSkip?: number;
  /**
   * LoRAs merged into the base (and the refiner, as Fooocus does), each an
   * absolute path of a .safetensors (or torch pickle) LoRA and its strength;
   * order does not matter, weight 0 is ignored. Fooocus's default preset
   * always adds the offset LoRA at 0.1 — the caller lists it. Absent = none.
   */
  loras?: { path: string; weight: number }[];
  /** FreeU_V2 on the base UNet (Fooocus freeu_enabled); absent = the plain UNet. */
  freeu?: FreeuParams;
  /** A refiner that takes over at `switchStep`; absent (or the base checkpoint itself, as Fooocus) = none. */
  refiner?: RefinerJob;
  /**
   * Absolute path of a separate VAE .safetensors (Fooocus vae_name) that
   * decodes instead of the checkpoint's own: standalone (`encoder.*`,
   * `decoder.*`, `quant_conv`, `post_quant_conv`) or `first_stage_model.`
   * keys. Absent = the checkpoint's built-in VAE.
   */
  vae?: string;
  /** One seed per image, 0..2^63−1. */
  seeds: bigint[];
  /**
   * Per-image prompt workloads, when they differ by image (wildcards,
   * Random Style and [[a,b]] arrays are resolved per seed upstream).
   * Entry i replaces positive/negative (and the top-k counts, when given)
   * for image i.
   */
  perImagePrompts?: ImagePrompts[];
  /**
   * Absolute path of the Fooocus V2 prompt expansion folder (Fooocus
   * `models/prompt_expansion/fooocus_expansion`: config.json, pytorch_model.bin,
   * vocab.json, merges.txt, positive.txt). Needed when an image has an
   * `expansionSource`; a folder lacking files fails the job with an
   * ExpansionFolderError (a CheckpointError, reason not_found) naming them.
   */
  expansionFolder?: string;
  /**
   * black_out_nsfw (Fooocus `default_censor`): each decoded image goes through
   * the ONNX NSFW classifier at `modelPath` (image/safetyChecker.ts) before it
   * is encoded; a flagged image becomes black. A missing file fails the job
   * (SafetyCheckerMissingError).
   */
  blackOutNsfw?: { modelPath: string };
  format?: ImageFormat;
  quality?: number;
  /** Produce a JPEG preview with each progress event. */
  previews?: boolean;
  /**
   * Image-to-image (Fooocus Vary): start from this image instead of an empty
   * latent. Absent = text-to-image. Its size must equal width × height.
   */
  init?: InitImage;
  /**
   * Fooocus inpaint/outpaint (pipeline/inpaintImage.ts): sample the prepared
   * crop (Engine.prepareInpaint) with the inpaint patch and head, blend with
   * its fill on every model call, decode, and paste back into the canvas.
   * The job's width × height must be the crop's; the image returned has the
   * canvas' size. Absent = text-to-image (or `init`); not with `init`.
   */
  inpaint?: InpaintJob;
  /**
   * Fooocus image prompts (F modules/async_worker.py apply_control_nets; pipeline.md §3.5, §3.7):
   * IP-Adapter Plus images and PyraCanny / CPDS Control-LoRAs on the base UNet, each active
   * until its stop. Preprocessed in the engine at the job's final size (the inpaint crop's,
   * Vary's, Upscale's), and kept between jobs with the same inputs, so the per-image jobs of a
   * task preprocess once. Absent or no slots = none.
   */
  imagePromptTasks?: ImagePromptTasks;
}

/** One image prompt slot (Fooocus cn_tasks entry). */
export interface ImagePromptTask {
  type: 'ImagePrompt' | 'PyraCanny' | 'CPDS';
  /** 8-bit HWC, any channel count 1..4 (HWC3 applied). */
  image: PixelImage;
  /** Fooocus cn_stop, 0..1: active while the schedule's progress is below it. */
  stop: number;
  /** Fooocus cn_weight, 0..2. */
  weight: number;
}

/** TextToImageJob.imagePromptTasks: the slots and the models and settings they use. */
export interface ImagePromptTasks {
  slots: ImagePromptTask[];
  /** IP-Adapter Plus files (clip_vision_vit_h, ip-adapter-plus_sdxl_vit-h, fooocus_ip_negative); needed by an ImagePrompt slot. */
  ipAdapter?: { clipVision: string; ipAdapter: string; negative: string };
  /** control-lora-canny-rank128.safetensors; needed by a PyraCanny slot. */
  pyraCanny?: string;
  /** fooocus_xl_cpds_128.safetensors; needed by a CPDS slot. */
  cpds?: string;
  /** Fooocus controlnet_softness, 0..1; default 0.25. */
  softness?: number;
  /** PyraCanny thresholds; default 64 / 128. */
  cannyLow?: number;
  cannyHigh?: number;
  /** Fooocus skipping_cn_preprocessor: the resized image is the hint itself; default false. */
  skipPreprocessor?: boolean;
}

/** HWC bytes with their size (`channels` per pixel). */
export interface PixelImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Engine.prepareInpaint: Fooocus' image side of inpaint for one task, run
 * once before the images (F modules/async_worker.py apply_image_input's mask
 * steps, apply_outpaint, the InpaintWorker constructor; pipeline.md §3.3–3.4).
 */
export interface InpaintPrepareRequest {
  /** The input image, RGB (HWC3 applied). */
  image: PixelImage;
  /** The drawn mask, one channel of the image's size; absent = all zeros (FooocusAPI has no drawn mask). */
  mask?: Uint8Array;
  /** The advanced-masking upload, any channel count and size (resampled, channel mean > 127); absent = none. */
  upload?: PixelImage;
  /** Fooocus `inpaint_erode_or_dilate`; default 0. */
  erodeOrDilate?: number;
  /** Fooocus `invert_mask_checkbox`; default false. */
  invert?: boolean;
  /** Outpaint sides and FooocusAPI's per-side pixels (0 = 30 %); absent or no sides = no outpaint. */
  outpaint?: { sides: ('left' | 'top' | 'right' | 'bottom')[]; distances?: { left?: number; top?: number; right?: number; bottom?: number } };
  /** Interested-area factor (outpaint: 1, the caller forces it). */
  respectiveField: number;
  /** The inpaint strength; the fill runs above 0.99. */
  denoise: number;
  /** Fooocus's upscaler (ESRGAN), run on crops whose shape ceil is below 1024. */
  upscalerPath: string;
}

/** The prepared canvas and crop (inpaint/inpaintTask.ts InpaintTask), structured-clone data. */
export interface PreparedInpaint {
  /** Interested area [a, b, c, d]: rows a..b, columns c..d of the canvas. */
  area: [number, number, number, number];
  /** The crop at shape ceil 1024, RGB. */
  image: PixelImage;
  /** Its mask, one channel, 0/255. */
  mask: Uint8Array;
  /** The fill (or the crop when the strength is ≤ 0.99), RGB. */
  fill: Uint8Array;
  /** The (outpaint-padded) canvas, RGB: the size of the final image. */
  original: PixelImage;
  /** The canvas' soft blend mask (`morphological_open`), one channel. */
  softMask: Uint8Array;
}

/** TextToImageJob.inpaint. */
export interface InpaintJob {
  prepared: PreparedInpaint;
  /** `fooocus_inpaint_head.pth`; null = inpaint engine None (no head, no patch). */
  headPath: string | null;
  /** `inpaint_v26.fooocus.patch` (…), merged into the base only; null = inpaint engine None. */
  patchPath: string | null;
  /** Inpaint strength in (0, 1] (outpaint: 1). */
  denoise: number;
  /** Fooocus `inpaint_disable_initial_latent`: start from noise instead of the fill's latent; default false. */
  disableInitialLatent?: boolean;
  /**
   * Where Fooocus' synthetic refiner (the base without patch and head) takes over, when the
   * job has no refiner and a patch is used; Fooocus: round(steps × 0.8), overwrite_switch
   * replacing it. Ignored otherwise.
   */
  syntheticSwitchStep: number;
  /** How the synthetic refiner takes over (Fooocus uses the request's refiner_swap_method); default 'joint'. */
  syntheticSwapMethod?: 'joint' | 'separate';
  /** Seed of the two posterior draws of the encode; default the first of `seeds` (Fooocus encodes once per task). */
  encodeSeed?: bigint;
}

/**
 * The starting image of an image-to-image job (pipeline/imageToImage.ts):
 * VAE-encoded (a posterior sample), noised to the first sigma of the
 * denoise-sliced schedule, then sampled as usual.
 */
export interface InitImage {
  /** HWC RGB bytes, width·height·3, already shaped as the VAE sees it (image/varyInputImage.ts). */
  rgb: Uint8Array;
  /** Multiples of 8, equal to the job's width and height. */
  width: number;
  height: number;
  /** Denoising strength in (0, 1]: Fooocus Vary (Subtle) 0.5, Vary (Strong) 0.85. */
  denoise: number;
  /**
   * Seed of the posterior draw `eps` of the VAE encode (Fooocus draws it from
   * torch's global RNG, unseeded). Default: the first of `seeds`, so every
   * image of the job starts from the same latent, as Fooocus encodes once
   * per task. The draw is `torchRandn(shape, posteriorNoiseSeed(encodeSeed))`.
   */
  encodeSeed?: bigint;
}

/** One image's prompt workloads (TextToImageJob.perImagePrompts). */
export interface ImagePrompts {
  positive: string[];
  negative: string[];
  /** Overrides the job's positiveTopK / negativeTopK for this image (its workload count may differ). */
  positiveTopK?: number;
  negativeTopK?: number;
  /**
   * Fooocus V2: the text to expand for this image (Fooocus `task_prompt`: the
   * main prompt line after wildcards and arrays, LoRA tags removed). The engine
   * expands it with the image's seed and appends the result as the LAST
   * positive workload, after the top-k count was taken, so it never adds to
   * the pooled vector (pipeline.md §1.2 step 5, §1.3). Absent or '' = no
   * expansion. Needs `expansionFolder`.
   */
  expansionSource?: string;
}

/**
 * How the refiner takes over (F modules/default_pipeline.py process_diffusion):
 * `joint` swaps the UNet inside one sampler run after the step callback of
 * `switchStep` (the base runs steps 0…switchStep); `separate` runs two sampler
 * calls, the base on steps 0…switchStep−1 and the refiner on the rest, the
 * second without added noise; `vae` (an SD 1.5 refiner through Fooocus' latent
 * interposer) is refused, the interposer model is not available.
 */
export type RefinerSwapMethod = 'joint' | 'separate' | 'vae';

export interface RefinerJob {
  /** Absolute path of an SDXL refiner, or an SDXL base model used as refiner. */
  checkpoint: string;
  /** Fooocus: round(steps · refiner_switch); 0..steps. */
  switchStep: number;
  swapMethod: RefinerSwapMethod;
}

export interface GenerationProgress {
  imageIndex: number;
  imageCount: number;
  /** 1-based step just finished. */
  step: number;
  steps: number;
  /** 0..100 over the whole job. */
  percent: number;
  preview?: Uint8Array;
}

export interface GeneratedImage {
  seed: bigint;
  width: number;
  height: number;
  format: ImageFormat;
  /** The encoded image, without generation metadata (the caller embeds it: image/metadata/). */
  data: Uint8Array;
  /** The positive workloads that were encoded for this image, the expansion last when it ran. */
  positive?: string[];
  negative?: string[];
  /** The Fooocus V2 expansion text appended for this image; absent when none ran. */
  expansion?: string;
  /** black_out_nsfw flagged the image and it was replaced by a black one. */
  nsfw?: boolean;
  /**
   * What the caller should tell the user about how the job ran, one line each:
   * a LoRA file skipped (more than 12 tensors matched nothing), a LoRA that
   * matched no weight of the model, patches whose shapes did not fit.
   */
  warnings?: string[];
}

export interface GenerateOptions {
  onProgress?: (p: GenerationProgress) => void;
  signal?: AbortSignal;
}

/**
 * Engine.upscale: Fooocus's upscaler (perform_upscale, upscale/loadedUpscaler.ts) on an
 * 8-bit RGB image, then optionally Fooocus apply_upscale's resize and `default_censor`.
 * Both run here, in the engine thread, because a PIL-exact Lanczos of a 4× image is
 * seconds of synchronous JS that must not stall the worker's heartbeats.
 */
export interface UpscaleImageOptions {
  signal?: AbortSignal;
  /** After each model tile. */
  onProgress?: (p: UpscaleProgress) => void;
  /** Resize of the model's output; absent = the model's output as it is (×scale). */
  resize?: UpscaleResize;
  /** black_out_nsfw on the final image (Fooocus censors an upscale it returns directly); absent = no check. */
  blackOutNsfw?: { modelPath: string };
}

/**
 * `{ shapeCeil }`: Fooocus `set_image_shape_ceil` (sides multiples of 64, PIL Lanczos);
 * `{ width, height }`: Fooocus `resample_image` (PIL Lanczos to exactly that size).
 */
export type UpscaleResize = { shapeCeil: number } | { width: number; height: number };

export interface UpscaleProgress {
  /** Tiles done (1-based) of `tiles`. */
  tile: number;
  tiles: number;
}

export interface UpscaledImage {
  /** HWC RGB bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  /** The model's scale (4 for Fooocus's upscaler). */
  scale: number;
  /** Present when blackOutNsfw was asked: true when the image was flagged and blacked out. */
  nsfw?: boolean;
}
