/**
 * Fooocus-API (old project) generation bodies → FooocusAPI's CommonRequest input
 * (api-contract §8.1, §8.2, §8.6). One old route per input tab; the route decides where
 * `input_image` goes and which fields exist at all:
 *
 * | route (v1 multipart / v2 JSON)      | job type                    | extra old fields                                    |
 * |-------------------------------------|-----------------------------|-----------------------------------------------------|
 * | v1 text-to-image (JSON)             | Text to Image               | –                                                   |
 * | v2 text-to-image-with-ip            | Text to Image               | image_prompts                                       |
 * | image-upscale-vary                  | Image Upscale or Variation  | input_image (required), uov_method, upscale_value, image_prompts (v2) |
 * | image-inpaint-outpaint              | Image Inpaint or Outpaint   | input_image, input_mask, inpaint_additional_prompt, outpaint_selections, outpaint_distance_*, image_prompts (v2) |
 * | image-prompt                        | Image Prompt                | as inpaint-outpaint, image_prompts (v2: required)   |
 *
 * Fields the old route does not have are dropped (pydantic ignored unknown fields; a new-only
 * field such as `uov_input_image` sent to an old route must not change the job). The renames
 * themselves (advanced_params.* → top level, save_meta → save_metadata_to_images, …) are done by
 * core's `applyLegacyAliases` inside `parseCommonRequest`, so 422 locations name the field the
 * client sent. What is added here:
 *   - v2 upscale-vary's own default `uov_method = "Upscale (2x)"`;
 *   - a LoRA without `enabled` is enabled (old `Lora.enabled` defaulted to true);
 *   - the old server's auto-set mixing flags: image prompts together with an upscale/vary or
 *     inpaint image set mixing_image_prompt_and_vary_upscale / _inpaint;
 *   - required fields as 422 `missing` (v2 upscale-vary `input_image`, v2 image-prompt `image_prompts`).
 */
import { ValidationError, type ValidationIssue } from '../../core/errors.ts';
import type { ParseCommonRequestOptions } from '../../core/request/commonRequest.ts';
import type { JobType } from './legacyTask.ts';

export type LegacyGenerationRoute = 'text-to-image' | 'text-to-image-with-ip' | 'image-upscale-vary' | 'image-inpaint-outpaint' | 'image-prompt';

/** Old `CommonRequest` fields shared by every generation route (JSON and form). */
const COMMON_FIELDS = [
  'prompt',
  'negative_prompt',
  'style_selections',
  'performance_selection',
  'aspect_ratios_selection',
  'image_number',
  'image_seed',
  'sharpness',
  'guidance_scale',
  'base_model_name',
  'refiner_model_name',
  'refiner_switch',
  'loras',
  'advanced_params',
  'save_meta',
  'meta_scheme',
  'save_extension',
  'save_name',
  'read_wildcards_in_order',
  'require_base64',
  'async_process',
  'webhook_url',
] as const;

const INPAINT_FIELDS = [
  'input_image',
  'input_mask',
  'inpaint_additional_prompt',
  'outpaint_selections',
  'outpaint_distance_left',
  'outpaint_distance_right',
  'outpaint_distance_top',
  'outpaint_distance_bottom',
] as const;

interface RouteSpec {
  jobType: JobType;
  fields: readonly string[];
  inputImageTarget?: 'uov' | 'inpaint';
  /** Old field defaults that differ from FooocusAPI's (applied when the field is absent). */
  defaults?: Record<string, unknown>;
  required?: readonly string[];
}

/** What each route accepts; `version` 1 = multipart form (images are files), 2 = JSON. */
export function routeSpec(route: LegacyGenerationRoute, version: 1 | 2): RouteSpec {
  switch (route) {
    case 'text-to-image':
      return { jobType: 'Text to Image', fields: COMMON_FIELDS };
    case 'text-to-image-with-ip':
      return { jobType: 'Text to Image', fields: [...COMMON_FIELDS, 'image_prompts'] };
    case 'image-upscale-vary':
      return {
        jobType: 'Image Upscale or Variation',
        fields: [...COMMON_FIELDS, 'input_image', 'uov_method', 'upscale_value', ...(version === 2 ? ['image_prompts'] : [])],
        inputImageTarget: 'uov',
        defaults: version === 2 ? { uov_method: 'Upscale (2x)' } : {},
        required: version === 2 ? ['input_image'] : ['input_image', 'uov_method'],
      };
    case 'image-inpaint-outpaint':
      return {
        jobType: 'Image Inpaint or Outpaint',
        fields: [...COMMON_FIELDS, ...INPAINT_FIELDS, ...(version === 2 ? ['image_prompts'] : [])],
        inputImageTarget: 'inpaint',
        required: version === 2 ? [] : ['input_image'],
      };
    case 'image-prompt':
      return {
        jobType: 'Image Prompt',
        fields: [...COMMON_FIELDS, ...INPAINT_FIELDS, 'image_prompts'],
        inputImageTarget: 'inpaint',
        required: version === 2 ? ['image_prompts'] : [],
      };
    default:
      return assertNever(route);
  }
}

export interface MappedLegacyRequest {
  /** Old-named body for `parseCommonRequest(body, parseOptions)`. */
  body: Record<string, unknown>;
  parseOptions: ParseCommonRequestOptions;
  jobType: JobType;
  requireBase64: boolean;
  asyncProcess: boolean;
}

/**
 * Keeps the route's fields, applies its defaults and checks, and returns what the shared submit
 * path parses. Throws a 422 ValidationError for a non-object body or a missing required field.
 * `location` is `body` for JSON and for forms (FastAPI reports form fields under "body" too).
 */
export function mapLegacyRequest(route: LegacyGenerationRoute, version: 1 | 2, input: unknown): MappedLegacyRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError([
      { type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input },
    ]);
  }
  const spec = routeSpec(route, version);
  const source = input as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const field of spec.fields) {
    if (source[field] !== undefined) body[field] = source[field];
  }
  for (const [field, value] of Object.entries(spec.defaults ?? {})) {
    if (body[field] === undefined) body[field] = value;
  }
  const missing: ValidationIssue[] = (spec.required ?? [])
    .filter((f) => body[f] === undefined || body[f] === null)
    .map((f) => ({ type: 'missing', loc: ['body', f], msg: 'Field required', input: null }));
  if (missing.length > 0) throw new ValidationError(missing);

  if (Array.isArray(body.loras)) body.loras = body.loras.map(enableByDefault);
  applyMixingFlags(body);

  return {
    body,
    parseOptions: spec.inputImageTarget ? { legacyInputImageTarget: spec.inputImageTarget } : {},
    jobType: spec.jobType,
    requireBase64: isTrue(body.require_base64),
    asyncProcess: isTrue(body.async_process),
  };
}

/** Old `Lora.enabled` defaulted to true; FooocusAPI requires the field. */
function enableByDefault(lora: unknown): unknown {
  if (lora && typeof lora === 'object' && !Array.isArray(lora) && (lora as Record<string, unknown>).enabled === undefined) {
    return { enabled: true, ...(lora as Record<string, unknown>) };
  }
  return lora;
}

/**
 * Old v2 routes: `if len(image_prompts) > 0 and input_image` ⇒ the mixing flag for that tab is
 * forced on (the old server did this silently; FooocusAPI does not).
 */
function applyMixingFlags(body: Record<string, unknown>): void {
  const prompts = Array.isArray(body.image_prompts) ? body.image_prompts : [];
  const hasPrompt = prompts.some((p) => p && typeof p === 'object' && hasImage((p as Record<string, unknown>).cn_img));
  if (!hasPrompt || !hasImage(body.input_image)) return;
  const flag = 'uov_method' in body ? 'mixing_image_prompt_and_vary_upscale' : 'mixing_image_prompt_and_inpaint';
  body[flag] = true;
}

function hasImage(v: unknown): boolean {
  return typeof v === 'string' && v !== '' && v !== 'None';
}

/** pydantic lax bool, for reading the response-mode flags before validation. */
export function isTrue(v: unknown): boolean {
  if (v === true || v === 1) return true;
  return typeof v === 'string' && ['1', 'on', 't', 'true', 'y', 'yes'].includes(v.trim().toLowerCase());
}

function assertNever(value: never): never {
  throw new Error(`unknown route ${String(value)}`);
}
