/**
 * FooocusAPI's `CommonRequest` (body of `POST /v1/engine/generate/`) as zod schemas, field for
 * field from api-contract §2.1 (FooocusAPI `apis/models/requests.py`, `base.py`, defaults of the
 * stock `presets/default.json`). The wire format keeps FooocusAPI's snake_case names; the
 * translation to the domain's `GenerationJob` happens in `normaliseRequest.ts`.
 *
 * Compatibility rules kept from pydantic:
 *  - unknown fields are ignored (zod objects strip them, like `extra="ignore"`);
 *  - `StrictStr` fields reject numbers; int/float/bool fields take lax coercions (`laxTypes.ts`);
 *  - every field has a default, so `{}` is a valid body.
 * Deliberate deviations (FooocusAPI fails later with a 500 or a silently empty task, we answer
 * 422 up front): sampler, scheduler, refiner swap method, inpaint engine, output format and the
 * enhance order/prompt-type strings are enums; image strings must be a URL or base64; model and
 * file names may not escape their folder; `enhance_ctrls` holds at most 3 entries;
 * `outpaint_distance` has exactly 4 non-negative entries; `save_name` is a plain file stem.
 * Aspect ratio and style names are checked in `normaliseRequest` (they need parsing / the style
 * catalog).
 *
 * Legacy Fooocus-API (old project) names are mapped by `legacyAliases.ts` before parsing.
 */
import { z } from 'zod';
import { fromZodError, ValidationError } from '../errors.ts';
import {
  CLOTH_CATEGORIES,
  CONTROLNET_TYPES,
  DEFAULT_MAX_IMAGE_NUMBER,
  DEFAULT_VAE,
  ENHANCE_UOV_PROCESSING_ORDERS,
  ENHANCE_UOV_PROMPT_TYPES,
  INPAINT_ENGINES,
  MASK_MODELS,
  METADATA_SCHEMES,
  OUTPAINT_DIRECTIONS,
  OUTPUT_FORMATS,
  PERFORMANCES,
  REFINER_SWAP_METHODS,
  SAM_MODELS,
  SAMPLER_NAMES,
  SCHEDULER_NAMES,
  UOV_METHODS,
  CLIP_SKIP_MAX,
} from './fooocusConstants.ts';
import { imageStringShape } from './imageInput.ts';
import { laxBigInt, laxBool, laxInt, laxNumber } from './laxTypes.ts';
import { applyLegacyAliases, type LegacyAliasOptions } from './legacyAliases.ts';

// ---------------------------------------------------------------------------------------------
// Field building blocks
// ---------------------------------------------------------------------------------------------

/** A URL or base64 image string (shape only). */
const imageString = z.string().superRefine((v, ctx) => {
  if (imageStringShape(v) === 'invalid') {
    ctx.addIssue({
      code: 'custom',
      message: 'Image must be an http(s) URL, base64 data (optionally a data:image/...;base64, URL) or "None"',
      input: v,
      params: { type: 'image_format' },
    });
  }
});

/** A model/LoRA/VAE file name relative to its folder; subfolders allowed, escaping is not. */
const modelFileName = z.string().superRefine((v, ctx) => {
  if (!isSafeRelativeName(v)) {
    ctx.addIssue({
      code: 'custom',
      message: 'File name must be relative to its model folder (no "..", no absolute path, no control characters)',
      input: v,
      params: { type: 'file_name' },
    });
  }
});

function isSafeRelativeName(v: string): boolean {
  if (/[\u0000-\u001f]/.test(v)) return false;
  if (v.startsWith('/') || v.startsWith('\\') || /^[A-Za-z]:/.test(v)) return false;
  return !v.split(/[\\/]/).some((part) => part === '..');
}

/** `save_name`: an output file stem (FooocusAPI writes `{save_name}-{i}.{ext}`). */
const saveName = z
  .string()
  .max(200)
  .superRefine((v, ctx) => {
    if (!/^[^\\/\u0000-\u001f]*$/.test(v) || v === '.' || v === '..') {
      ctx.addIssue({
        code: 'custom',
        message: 'save_name must be a file name without path separators or control characters',
        input: v,
        params: { type: 'file_name' },
      });
    }
  });

// ---------------------------------------------------------------------------------------------
// Sub-models
// ---------------------------------------------------------------------------------------------

export const loraSchema = z
  .object({
    enabled: laxBool().describe('Whether this LoRA slot is used. Required (FooocusAPI has no default).'),
    model_name: modelFileName.describe('LoRA file name in the loras folder; "None" marks an empty slot. Required.'),
    weight: laxNumber({ min: -2, max: 2 }).default(0.5).describe('LoRA weight, -2..2. Default 0.5.'),
  })
  .describe('One LoRA slot.');

export const imagePromptSchema = z
  .object({
    cn_img: imageString
      .nullable()
      .default(null)
      .describe('Control image: http(s) URL or base64 (a data: URL is fine). null/"None" = empty slot.'),
    cn_stop: laxNumber({ min: 0, max: 1 })
      .nullable()
      .default(0.6)
      .describe('Stop at, 0..1. Default 0.6; null = the Fooocus default for cn_type.'),
    cn_weight: laxNumber({ min: 0, max: 2 })
      .nullable()
      .default(0.6)
      .describe('Weight, 0..2. Default 0.6; null = the Fooocus default for cn_type.'),
    cn_type: z.enum(CONTROLNET_TYPES).default('ImagePrompt').describe('ImagePrompt, FaceSwap, PyraCanny or CPDS. Default ImagePrompt.'),
  })
  .describe('One image-prompt / ControlNet slot (FooocusAPI `ImagePrompt`).');

export const enhanceCtrlSchema = z
  .object({
    enhance_enabled: laxBool().default(false).describe('Use this enhance tab. Default false.'),
    enhance_mask_dino_prompt: z.string().default('').describe('Text naming what to detect (GroundingDINO prompt). Default "".'),
    enhance_prompt: z.string().default('').describe('Positive prompt for this region ("" = the main prompt). Default "".'),
    enhance_negative_prompt: z.string().default('').describe('Negative prompt for this region. Default "".'),
    enhance_mask_model: z.enum(MASK_MODELS).default('sam').describe('Mask model. Default sam.'),
    enhance_mask_cloth_category: z.enum(CLOTH_CATEGORIES).default('full').describe('Cloth category for u2net_cloth_seg. Default full.'),
    enhance_mask_sam_model: z.enum(SAM_MODELS).default('vit_b').describe('SAM model. Default vit_b.'),
    enhance_mask_text_threshold: laxNumber({ min: 0, max: 1 }).default(0.25).describe('Text threshold, 0..1. Default 0.25.'),
    enhance_mask_box_threshold: laxNumber({ min: 0, max: 1 }).default(0.3).describe('Box threshold, 0..1. Default 0.3.'),
    enhance_mask_sam_max_detections: laxInt({ min: 0, max: 10 }).default(0).describe('Max detections, 0..10 (0 = all). Default 0.'),
    enhance_inpaint_disable_initial_latent: laxBool().default(false).describe('Disable the initial latent in inpaint. Default false.'),
    enhance_inpaint_engine: z.enum(INPAINT_ENGINES).default('v2.6').describe('Inpaint engine. Default v2.6.'),
    enhance_inpaint_strength: laxNumber({ min: 0, max: 1 }).default(1).describe('Inpaint denoising strength, 0..1. Default 1.'),
    enhance_inpaint_respective_field: laxNumber({ min: 0, max: 1 }).default(0.618).describe('Inpaint respective field, 0..1. Default 0.618.'),
    enhance_inpaint_erode_or_dilate: laxNumber({ min: -64, max: 64 }).default(0).describe('Mask erode (<0) or dilate (>0), -64..64. Default 0.'),
    enhance_mask_invert: laxBool().default(false).describe('Invert the mask. Default false.'),
  })
  .describe('One enhance tab (FooocusAPI `EnhanceCtrlNets`).');

export type LoraWire = z.output<typeof loraSchema>;
export type ImagePromptWire = z.output<typeof imagePromptSchema>;
export type EnhanceCtrlWire = z.output<typeof enhanceCtrlSchema>;

/** The 5 default LoRA slots of the stock default preset (§2.1). */
export function defaultLoras(): LoraWire[] {
  return [
    { enabled: true, model_name: 'sd_xl_offset_example-lora_1.0.safetensors', weight: 0.1 },
    { enabled: true, model_name: 'None', weight: 1.0 },
    { enabled: true, model_name: 'None', weight: 1.0 },
    { enabled: true, model_name: 'None', weight: 1.0 },
    { enabled: true, model_name: 'None', weight: 1.0 },
  ];
}

/** `ImagePrompt()` with FooocusAPI's defaults (used for padding to 4 slots). */
export function defaultImagePrompt(): ImagePromptWire {
  return { cn_img: null, cn_stop: 0.6, cn_weight: 0.6, cn_type: 'ImagePrompt' };
}

export function defaultEnhanceCtrl(): EnhanceCtrlWire {
  return enhanceCtrlSchema.parse({});
}

export const DEFAULT_STYLE_SELECTIONS = ['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp'] as const;

// ---------------------------------------------------------------------------------------------
// CommonRequest
// ---------------------------------------------------------------------------------------------

export const commonRequestSchema = z
  .object({
    prompt: z.string().default('').describe('Prompt. Line 1 is the main prompt; further lines are extra positive prompts. Default "".'),
    negative_prompt: z.string().default('').describe('Negative prompt (multi-line like prompt). Default "".'),
    style_selections: z
      .array(z.string())
      .default(() => [...DEFAULT_STYLE_SELECTIONS])
      .describe('Style names from GET /v1/engines/styles, applied in order. Default ["Fooocus V2","Fooocus Enhance","Fooocus Sharp"].'),
    performance_selection: z
      .enum(PERFORMANCES)
      .default('Speed')
      .describe('Quality (60 steps), Speed (30), Extreme Speed (8, LCM), Lightning (4), Hyper-SD (4). Default Speed.'),
    aspect_ratios_selection: z
      .string()
      .default('1152*896')
      .describe('Output size "W*H" (also "W×H"), e.g. "1024*1024". Default "1152*896".'),
    image_number: laxInt({ min: 1, max: DEFAULT_MAX_IMAGE_NUMBER })
      .default(1)
      .describe('Number of images, 1..32 (forced to 1 for Accept: image/* and for enhance). Default 1.'),
    output_format: z.enum(OUTPUT_FORMATS).default('png').describe('png, jpeg (or jpg) or webp. Default png.'),
    image_seed: laxBigInt()
      .default(-1)
      .describe('Seed, 0..2^63-1; -1, null or out of range = random. Send seeds above 2^53 as a decimal string. Default -1.'),
    read_wildcards_in_order: laxBool().default(false).describe('Pick __wildcard__ lines in order instead of at random. Default false.'),
    sharpness: laxNumber({ min: 0, max: 30 }).default(2.0).describe('Sharpness, 0..30. Default 2.0.'),
    guidance_scale: laxNumber({ min: 1, max: 30 }).default(4.0).describe('CFG scale, 1..30. Default 4.0.'),
    base_model_name: modelFileName
      .default('juggernautXL_v8Rundiffusion.safetensors')
      .describe('Base SDXL checkpoint file name. Default "juggernautXL_v8Rundiffusion.safetensors".'),
    refiner_model_name: modelFileName.default('None').describe('Refiner checkpoint, "None" = off (same as base = off). Default "None".'),
    refiner_switch: laxNumber({ min: 0.1, max: 1.0 }).default(0.5).describe('Switch to the refiner at this fraction of steps, 0.1..1. Default 0.5.'),
    loras: z
      .array(loraSchema)
      .default(defaultLoras)
      .describe('LoRA slots; padded with empty slots / truncated to 5. Default: offset LoRA at 0.1 + 4 empty slots.'),
    input_image_checkbox: laxBool().default(false).describe('Ignored: always forced true by the server.'),
    current_tab: z
      .string()
      .default('uov')
      .describe('uov, inpaint, ip or enhance. Auto-detected from the image fields (enhance > ip slot 0 > uov > inpaint); kept when none is set. Default "uov".'),
    uov_method: z.enum(UOV_METHODS).default('Disabled').describe('Upscale or vary method. Default Disabled.'),
    uov_input_image: imageString.nullable().default('None').describe('Image to upscale/vary (URL or base64). Default "None".'),
    outpaint_selections: z
      .array(z.enum(OUTPAINT_DIRECTIONS))
      .default(() => [])
      .describe('Outpaint directions: Left, Right, Top, Bottom. Default [].'),
    inpaint_input_image: imageString.nullable().default('None').describe('Image to inpaint/outpaint (URL or base64). Default "None".'),
    inpaint_additional_prompt: z.string().default('').describe('Prepended to the prompt ("add\\nprompt") when inpainting. Default "".'),
    inpaint_mask_image_upload: imageString.nullable().default('None').describe('Inpaint mask, white = repaint (URL or base64). Default "None".'),
    disable_preview: laxBool().default(false).describe('Do not produce step previews. Default false.'),
    disable_intermediate_results: laxBool().default(false).describe('Do not report intermediate images. Default false.'),
    disable_seed_increment: laxBool().default(false).describe('Use the same seed for every image instead of seed+i. Default false.'),
    black_out_nsfw: laxBool().default(false).describe('Black out images the safety checker flags. Default false.'),
    adm_scaler_positive: laxNumber({ min: 0, max: 3 }).default(1.5).describe('Positive ADM guidance scaler, 0..3. Default 1.5.'),
    adm_scaler_negative: laxNumber({ min: 0, max: 3 }).default(0.8).describe('Negative ADM guidance scaler, 0..3. Default 0.8.'),
    adm_scaler_end: laxNumber({ min: 0, max: 1 }).default(0.3).describe('ADM guidance end at step fraction, 0..1. Default 0.3.'),
    adaptive_cfg: laxNumber({ min: 1, max: 30 }).default(7.0).describe('CFG mimicking from TSNR (adaptive CFG), 1..30. Default 7.0.'),
    clip_skip: laxInt({ min: 1, max: CLIP_SKIP_MAX }).default(2).describe('CLIP skip, 1..12. Default 2.'),
    sampler_name: z.enum(SAMPLER_NAMES).default('dpmpp_2m_sde_gpu').describe('Sampler. Default dpmpp_2m_sde_gpu.'),
    scheduler_name: z.enum(SCHEDULER_NAMES).default('karras').describe('Scheduler. Default karras.'),
    vae_name: modelFileName.default(DEFAULT_VAE).describe('VAE file name or "Default (model)". Default "Default (model)".'),
    overwrite_step: laxInt().default(-1).describe('>0 overrides the performance step count. Default -1.'),
    overwrite_switch: laxInt().default(-1).describe('>0 sets the refiner switch step. Default -1.'),
    overwrite_width: laxInt({ min: -1, max: 2048 }).default(-1).describe('>0 overrides the width, -1..2048. Default -1.'),
    overwrite_height: laxInt({ min: -1, max: 2048 }).default(-1).describe('>0 overrides the height, -1..2048. Default -1.'),
    overwrite_vary_strength: laxNumber({ min: -1, max: 1 }).default(-1).describe('>0 overrides the vary denoise (0.5/0.85), -1..1. Default -1.'),
    overwrite_upscale_strength: laxNumber({ min: -1, max: 1 }).default(-1).describe('>0 overrides the upscale denoise (0.382), -1..1. Default -1.'),
    mixing_image_prompt_and_vary_upscale: laxBool().default(false).describe('Run image prompts together with upscale/vary. Default false.'),
    mixing_image_prompt_and_inpaint: laxBool().default(false).describe('Run image prompts together with inpaint. Default false.'),
    debugging_cn_preprocessor: laxBool().default(false).describe('Return the ControlNet preprocessor output. Default false.'),
    skipping_cn_preprocessor: laxBool().default(false).describe('Skip the ControlNet preprocessor. Default false.'),
    canny_low_threshold: laxInt({ min: 1, max: 255 }).default(64).describe('PyraCanny low threshold, 1..255. Default 64.'),
    canny_high_threshold: laxInt({ min: 1, max: 255 }).default(128).describe('PyraCanny high threshold, 1..255. Default 128.'),
    refiner_swap_method: z.enum(REFINER_SWAP_METHODS).default('joint').describe('joint, separate or vae. Default joint.'),
    controlnet_softness: laxNumber({ min: 0, max: 1 }).default(0.25).describe('ControlNet softness, 0..1. Default 0.25.'),
    freeu_enabled: laxBool().default(false).describe('Enable FreeU. Default false.'),
    freeu_b1: laxNumber().default(1.01).describe('FreeU b1. Default 1.01.'),
    freeu_b2: laxNumber().default(1.02).describe('FreeU b2. Default 1.02.'),
    freeu_s1: laxNumber().default(0.99).describe('FreeU s1. Default 0.99.'),
    freeu_s2: laxNumber().default(0.95).describe('FreeU s2. Default 0.95.'),
    debugging_inpaint_preprocessor: laxBool().default(false).describe('Return the inpaint preprocessor output. Default false.'),
    inpaint_disable_initial_latent: laxBool().default(false).describe('Disable the initial latent in inpaint. Default false.'),
    inpaint_engine: z.enum(INPAINT_ENGINES).default('v2.6').describe('Inpaint engine: None, v1, v2.5, v2.6. Default v2.6.'),
    inpaint_strength: laxNumber({ min: 0, max: 1 }).default(1.0).describe('Inpaint denoising strength, 0..1 (outpaint forces 1). Default 1.0.'),
    inpaint_respective_field: laxNumber({ min: 0, max: 1 })
      .default(0.618)
      .describe('Inpaint respective field, 0..1 (outpaint forces 1). Default 0.618.'),
    inpaint_advanced_masking_checkbox: laxBool().default(false).describe('Ignored: forced true iff a mask is supplied.'),
    invert_mask_checkbox: laxBool().default(false).describe('Ignored: forced false.'),
    inpaint_erode_or_dilate: laxInt({ min: -64, max: 64 }).default(0).describe('Mask erode (<0) or dilate (>0), -64..64. Default 0.'),
    save_final_enhanced_image_only: laxBool().default(false).describe('Keep only the final enhanced image. Default false.'),
    save_metadata_to_images: laxBool().default(true).describe('Embed generation metadata in the files. Default true.'),
    metadata_scheme: z.enum(METADATA_SCHEMES).default('fooocus').describe('fooocus (JSON) or a1111 (plain text). Default fooocus.'),
    controlnet_image: z
      .array(imagePromptSchema)
      .default(() => [defaultImagePrompt()])
      .describe('Image prompts; padded / truncated to 4 slots. Only slot 0 selects the ip tab. Default [ImagePrompt()].'),
    debugging_dino: laxBool().default(false).describe('Return the GroundingDINO detections. Default false.'),
    dino_erode_or_dilate: laxInt({ min: -64, max: 64 }).default(0).describe('DINO mask erode/dilate, -64..64. Default 0.'),
    debugging_enhance_masks_checkbox: laxBool().default(false).describe('Return the enhance masks. Default false.'),
    enhance_input_image: imageString.nullable().default('None').describe('Image to enhance (URL or base64); selects the enhance tab. Default "None".'),
    enhance_checkbox: laxBool().default(false).describe('Must be true for enhance to run. Default false.'),
    enhance_uov_method: z.enum(UOV_METHODS).default('Disabled').describe('Upscale/vary step of enhance. Default Disabled.'),
    enhance_uov_processing_order: z
      .enum(ENHANCE_UOV_PROCESSING_ORDERS)
      .default('Before First Enhancement')
      .describe('When the enhance upscale/vary runs. Default "Before First Enhancement".'),
    enhance_uov_prompt_type: z
      .enum(ENHANCE_UOV_PROMPT_TYPES)
      .default('Original Prompts')
      .describe('Prompts used by the enhance upscale/vary. Default "Original Prompts".'),
    enhance_ctrls: z
      .array(enhanceCtrlSchema)
      .max(3)
      .default(() => [])
      .describe('Enhance tabs, at most 3; padded to 3 with disabled tabs. Default [].'),
    generate_image_grid: laxBool().default(false).describe('Accepted for compatibility; FooocusAPI never returns the grid. Default false.'),
    save_name: saveName.optional().describe('Output file stem: files become {save_name}-{i}.{ext}. Default: generated names.'),
    outpaint_distance: z
      .array(laxInt({ min: 0 }))
      .length(4)
      .default(() => [0, 0, 0, 0])
      .describe('Outpaint distance in px, order [left, top, right, bottom]; 0 = 30% of the side. Default [0,0,0,0].'),
    upscale_multiple: laxNumber({ min: 1, max: 5 }).default(1.0).describe('Factor for "Upscale (Custom)", 1..5. Default 1.0.'),
    preset: z.string().default('initial').describe('Preset name (see presets/); "initial" = none. Default "initial".'),
    stream_output: laxBool().default(false).describe('Answer with a server-sent event stream. Default false.'),
    require_base64: laxBool().default(false).describe('Unused (kept for compatibility). Default false.'),
    async_process: laxBool().default(false).describe('Answer at once with the task id. Default false.'),
    webhook_url: z.string().nullable().default('').describe('URL to POST the finished record to; ""/null = the server default. Default "".'),
  })
  .describe('FooocusAPI CommonRequest (POST /v1/engine/generate/).');

/** The validated wire request (defaults filled in, snake_case). */
export type CommonRequest = z.output<typeof commonRequestSchema>;
/** What a client may send (every field optional). */
export type CommonRequestInput = z.input<typeof commonRequestSchema>;

/** `CommonRequest()` — every default, as the preset rule (§2.4) compares against. */
export function defaultCommonRequest(): CommonRequest {
  return commonRequestSchema.parse({});
}

export interface ParseCommonRequestOptions extends LegacyAliasOptions {
  /** Map Fooocus-API (old project) names onto FooocusAPI ones first (§8.6). Default true. */
  legacyAliases?: boolean;
}

/**
 * Validate a JSON body. Throws `ValidationError` with FastAPI-shaped `detail`
 * (`loc: ["body", field, ...]`; a legacy name is reported under the name the client sent).
 */
export function parseCommonRequest(body: unknown, options: ParseCommonRequestOptions = {}): CommonRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([
      {
        type: 'model_attributes_type',
        loc: ['body'],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        input: body,
      },
    ]);
  }
  let input = body as Record<string, unknown>;
  let origins = new Map<string, (string | number)[]>();
  if (options.legacyAliases !== false) {
    const mapped = applyLegacyAliases(input, options);
    input = mapped.body;
    origins = mapped.origins;
  }
  const result = commonRequestSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw fromZodError(result.error, {
    rewriteLoc: (path) => {
      const origin = typeof path[0] === 'string' ? origins.get(path[0]) : undefined;
      return origin ? [...origin, ...path.slice(1)] : path;
    },
  });
}

/**
 * JSON Schema (2020-12) of the request body for OpenAPI 3.1. `io: 'input'` describes what a
 * client sends; zod leaves out defaults of coerced (preprocessed) fields in that mode, so they
 * are put back from the schema's own `.default()` values.
 */
export function commonRequestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(commonRequestSchema, {
    io: 'input',
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def as { type: string; defaultValue?: unknown };
      if (def.type === 'default' && ctx.jsonSchema.default === undefined) {
        const value = def.defaultValue;
        if (value !== undefined && typeof value !== 'bigint') ctx.jsonSchema.default = structuredClone(value);
      }
    },
  }) as Record<string, unknown>;
}
