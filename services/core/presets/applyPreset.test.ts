import { describe, expect, it } from 'vitest';
import { parseCommonRequest } from '../request/commonRequest.ts';
import { applyPreset } from './applyPreset.ts';
import type { Preset } from './loadPresets.ts';

const preset: Preset = {
  default_model: 'preset-model.safetensors',
  default_refiner: 'preset-refiner.safetensors',
  default_refiner_switch: 0.75,
  default_loras: [[true, 'preset-lora.safetensors', 0.3]],
  default_cfg_scale: 6,
  default_sample_sharpness: 3,
  default_sampler: 'dpmpp_2m',
  default_scheduler: 'edm_playground_v2.5',
  default_performance: 'Quality',
  default_prompt: 'preset prompt',
  default_prompt_negative: 'preset negative',
  default_styles: ['Fooocus V2'],
  default_aspect_ratio: '1024*1024',
  default_overwrite_step: 12,
  default_vae: 'preset-vae.safetensors',
  default_inpaint_engine_version: 'v1',
};

describe('applyPreset (FooocusAPI parse_preset precedence)', () => {
  it('replaces every mapped field still at its default', () => {
    const { request, applied } = applyPreset(parseCommonRequest({}), preset);
    expect(request).toMatchObject({
      prompt: 'preset prompt',
      negative_prompt: 'preset negative',
      base_model_name: 'preset-model.safetensors',
      refiner_model_name: 'preset-refiner.safetensors',
      refiner_switch: 0.75,
      style_selections: ['Fooocus V2'],
      adaptive_cfg: 6, // FooocusAPI maps default_cfg_scale to adaptive_cfg ...
      guidance_scale: 4, // ... and leaves the CFG scale alone
      sharpness: 3,
      sampler_name: 'dpmpp_2m',
      scheduler_name: 'edm_playground_v2.5',
      performance_selection: 'Quality',
      aspect_ratios_selection: '1024*1024',
      vae_name: 'preset-vae.safetensors',
    });
    expect(applied).toHaveLength(13);
  });

  it('keeps fields the client changed from the default', () => {
    const body = parseCommonRequest({
      prompt: 'mine',
      base_model_name: 'mine.safetensors',
      style_selections: ['Fooocus Sharp'],
      performance_selection: 'Lightning',
      aspect_ratios_selection: '1152×896',
      adaptive_cfg: 5,
      sampler_name: 'euler',
    });
    const { request } = applyPreset(body, preset);
    expect(request).toMatchObject({
      prompt: 'mine',
      base_model_name: 'mine.safetensors',
      style_selections: ['Fooocus Sharp'],
      performance_selection: 'Lightning',
      aspect_ratios_selection: '1152×896', // not byte-equal to the default "1152*896"
      adaptive_cfg: 5,
      sampler_name: 'euler',
      negative_prompt: 'preset negative', // untouched fields still merge
    });
  });

  it('treats an explicitly sent default like an omitted field', () => {
    const { request } = applyPreset(parseCommonRequest({ sharpness: 2.0, style_selections: ['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp'] }), preset);
    expect(request.sharpness).toBe(3);
    expect(request.style_selections).toEqual(['Fooocus V2']);
  });

  it('never merges guidance_scale, loras, image_number, output_format, inpaint engine or overwrite_step', () => {
    const before = parseCommonRequest({});
    const { request } = applyPreset(before, preset);
    expect(request.guidance_scale).toBe(before.guidance_scale);
    expect(request.loras).toEqual(before.loras);
    expect(request.image_number).toBe(1);
    expect(request.output_format).toBe('png');
    expect(request.inpaint_engine).toBe('v2.6');
    expect(request.overwrite_step).toBe(-1);
  });

  it('leaves fields alone when the preset lacks the key, and defaults vae to "Default (model)"', () => {
    const { request, applied } = applyPreset(parseCommonRequest({ vae_name: 'x.safetensors' }), { default_cfg_scale: 2 });
    expect(applied).toEqual(['adaptive_cfg']);
    expect(request.base_model_name).toBe('juggernautXL_v8Rundiffusion.safetensors');
    expect(request.vae_name).toBe('x.safetensors');
    expect(applyPreset(parseCommonRequest({}), {}).request.vae_name).toBe('Default (model)');
  });

  it('can target guidance_scale with default_cfg_scale (Fooocus UI meaning)', () => {
    const { request } = applyPreset(parseCommonRequest({}), { default_cfg_scale: 7 }, { cfgScaleTarget: 'guidance_scale' });
    expect(request).toMatchObject({ guidance_scale: 7, adaptive_cfg: 7 });
    const kept = applyPreset(parseCommonRequest({ guidance_scale: 5 }), { default_cfg_scale: 7 }, { cfgScaleTarget: 'guidance_scale' });
    expect(kept.request.guidance_scale).toBe(5);
  });

  it('does not mutate its input', () => {
    const body = parseCommonRequest({});
    applyPreset(body, preset);
    expect(body.prompt).toBe('');
  });
});
