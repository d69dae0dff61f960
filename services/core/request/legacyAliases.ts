/**
 * Fooocus-API (the old project) request names mapped onto FooocusAPI's (api-contract §8.6), so an
 * old client's JSON body works on `/v1/engine/generate/` and the compat routes can reuse the
 * same schema. FooocusAPI itself ignores these names (unknown fields); honouring them is
 * additive. A FooocusAPI name that is present always wins over its legacy alias.
 *
 *   advanced_params.<x>                      → <x> (top level)
 *   save_meta / meta_scheme / save_extension → save_metadata_to_images / metadata_scheme / output_format
 *   image_prompts                            → controlnet_image (cn_stop/cn_weight 0 or null = the type's default, old semantics)
 *   upscale_value                            → upscale_multiple
 *   enhance_ctrlnets                         → enhance_ctrls
 *   input_mask                               → inpaint_mask_image_upload
 *   outpaint_distance_{left,top,right,bottom}→ outpaint_distance [left, top, right, bottom] (old −1 = 0 = auto)
 *   input_image                              → uov_input_image or inpaint_input_image, only when the caller
 *                                              says which (the old project had one route per tab)
 * `meta_scheme: "a111"` (documented by the old project, crashing its worker) is read as `a1111`.
 */
import { ValidationError } from '../errors.ts';
import { CONTROLNET_TYPE_DEFAULTS, type ControlNetType } from './fooocusConstants.ts';

export interface LegacyAliasOptions {
  /** Where a legacy top-level `input_image` goes; unset = it is ignored like any unknown field. */
  legacyInputImageTarget?: 'uov' | 'inpaint';
}

export interface LegacyAliasResult {
  body: Record<string, unknown>;
  /** FooocusAPI field → the path the client actually used, for error locations. */
  origins: Map<string, (string | number)[]>;
}

const RENAMES: ReadonlyArray<readonly [legacy: string, current: string]> = [
  ['save_meta', 'save_metadata_to_images'],
  ['meta_scheme', 'metadata_scheme'],
  ['save_extension', 'output_format'],
  ['image_prompts', 'controlnet_image'],
  ['upscale_value', 'upscale_multiple'],
  ['enhance_ctrlnets', 'enhance_ctrls'],
  ['input_mask', 'inpaint_mask_image_upload'],
];

const OUTPAINT_SIDES = ['left', 'top', 'right', 'bottom'] as const;

export function applyLegacyAliases(input: Record<string, unknown>, options: LegacyAliasOptions = {}): LegacyAliasResult {
  const body: Record<string, unknown> = { ...input };
  const origins = new Map<string, (string | number)[]>();
  const has = (k: string) => Object.prototype.hasOwnProperty.call(input, k) && input[k] !== undefined;
  const adopt = (current: string, value: unknown, origin: (string | number)[]) => {
    if (has(current) || origins.has(current)) return;
    body[current] = value;
    origins.set(current, origin);
  };

  if (has('advanced_params')) {
    const adv = readAdvancedParams(input.advanced_params);
    for (const [k, v] of Object.entries(adv)) {
      if (v !== undefined) adopt(k, v, ['advanced_params', k]);
    }
    delete body.advanced_params;
  }

  for (const [legacy, current] of RENAMES) {
    if (!has(legacy)) continue;
    let value = input[legacy];
    if (legacy === 'meta_scheme' && value === 'a111') value = 'a1111';
    if (legacy === 'image_prompts') value = legacyImagePrompts(value);
    adopt(current, value, [legacy]);
    delete body[legacy];
  }

  const sideKeys = OUTPAINT_SIDES.map((s) => `outpaint_distance_${s}`);
  if (sideKeys.some(has)) {
    const distances = sideKeys.map((k) => {
      const v = has(k) ? input[k] : 0;
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && n < 0 ? 0 : n;
    });
    adopt('outpaint_distance', distances, [sideKeys.find(has) as string]);
    for (const k of sideKeys) delete body[k];
  }

  if (has('input_image') && options.legacyInputImageTarget) {
    const target = options.legacyInputImageTarget === 'uov' ? 'uov_input_image' : 'inpaint_input_image';
    adopt(target, input.input_image, ['input_image']);
    delete body.input_image;
  }

  return { body, origins };
}

function readAdvancedParams(value: unknown): Record<string, unknown> {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (cause) {
      throw ValidationError.forField(['advanced_params'], 'advanced_params must be an object (or a JSON string of one)', {
        type: 'json_invalid',
        input: value,
        cause,
      });
    }
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw ValidationError.forField(['advanced_params'], 'advanced_params must be an object', {
      type: 'model_attributes_type',
      input: value,
    });
  }
  return v as Record<string, unknown>;
}

/** Old `ImagePromptJson`: cn_stop / cn_weight of 0 (its default) or null meant "the type's default". */
function legacyImagePrompts(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((entry) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return entry;
    const e = { ...(entry as Record<string, unknown>) };
    const type = (typeof e.cn_type === 'string' && e.cn_type in CONTROLNET_TYPE_DEFAULTS ? e.cn_type : 'ImagePrompt') as ControlNetType;
    const defaults = CONTROLNET_TYPE_DEFAULTS[type];
    if (e.cn_stop === undefined || e.cn_stop === null || e.cn_stop === 0) e.cn_stop = defaults.stop;
    if (e.cn_weight === undefined || e.cn_weight === null || e.cn_weight === 0) e.cn_weight = defaults.weight;
    return e;
  });
}
