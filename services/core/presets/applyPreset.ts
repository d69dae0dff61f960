/**
 * FooocusAPI's preset precedence (`parse_preset`, api-contract §2.4): a request field takes the
 * preset's value only while it still EQUALS the `CommonRequest()` default. Sending the default
 * explicitly is therefore the same as omitting it — a FooocusAPI quirk clients can observe, kept.
 *
 * Kept as in FooocusAPI:
 *  - the field map below, including `default_cfg_scale` → `adaptive_cfg` (FooocusAPI's bug; the
 *    option `cfgScaleTarget: 'guidance_scale'` applies it to the CFG scale instead, as the
 *    Fooocus UI does);
 *  - not merged: `guidance_scale`, `loras`/`default_loras`, `image_number`, `output_format`,
 *    inpaint engine, `overwrite_*`;
 *  - `vae_name` ← `default_vae`, or "Default (model)" when the preset has none.
 * Changed: a key the preset lacks leaves the field as it is (FooocusAPI writes `None` and the
 * task fails later). Model downloads listed in the preset are never performed here.
 */
import { DEFAULT_VAE } from '../request/fooocusConstants.ts';
import { defaultCommonRequest, type CommonRequest } from '../request/commonRequest.ts';
import type { Preset } from './loadPresets.ts';

export interface ApplyPresetOptions {
  /**
   * Which request field `default_cfg_scale` fills. Default `'adaptive_cfg'` (FooocusAPI's
   * behaviour); `'guidance_scale'` gives the Fooocus UI's meaning of the preset.
   */
  cfgScaleTarget?: 'adaptive_cfg' | 'guidance_scale';
  /** The defaults to compare against. Default `defaultCommonRequest()`. */
  defaults?: CommonRequest;
}

export interface ApplyPresetResult {
  request: CommonRequest;
  /** Request fields that took the preset's value. */
  applied: (keyof CommonRequest)[];
}

type Rule = {
  [K in keyof CommonRequest]-?: readonly [field: K, value: (p: Preset) => CommonRequest[K] | undefined];
}[keyof CommonRequest];

export function applyPreset(request: CommonRequest, preset: Preset, options: ApplyPresetOptions = {}): ApplyPresetResult {
  const defaults = options.defaults ?? defaultCommonRequest();
  const cfgTarget = options.cfgScaleTarget ?? 'adaptive_cfg';
  const rules: Rule[] = [
    ['prompt', (p) => p.default_prompt],
    ['negative_prompt', (p) => p.default_prompt_negative],
    ['base_model_name', (p) => p.default_model],
    ['refiner_model_name', (p) => p.default_refiner],
    ['refiner_switch', (p) => p.default_refiner_switch],
    ['style_selections', (p) => (p.default_styles ? [...p.default_styles] : undefined)],
    [cfgTarget, (p) => p.default_cfg_scale],
    ['sharpness', (p) => p.default_sample_sharpness],
    ['sampler_name', (p) => p.default_sampler],
    ['scheduler_name', (p) => p.default_scheduler],
    ['performance_selection', (p) => p.default_performance],
    ['aspect_ratios_selection', (p) => p.default_aspect_ratio],
    ['vae_name', (p) => p.default_vae ?? DEFAULT_VAE],
  ];

  const out: Record<string, unknown> = { ...request };
  const applied: (keyof CommonRequest)[] = [];
  for (const [field, read] of rules) {
    const value = read(preset);
    if (value === undefined) continue;
    if (!deepEqual(request[field], defaults[field])) continue;
    out[field] = value;
    if (!deepEqual(value, request[field])) applied.push(field);
  }
  return { request: out as CommonRequest, applied };
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}
