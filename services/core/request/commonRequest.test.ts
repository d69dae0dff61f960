import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { commonRequestJsonSchema, defaultCommonRequest, parseCommonRequest } from './commonRequest.ts';

/** api-contract §2.1, with the stock presets/default.json. */
const CONTRACT_DEFAULTS = {
  prompt: '',
  negative_prompt: '',
  style_selections: ['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp'],
  performance_selection: 'Speed',
  aspect_ratios_selection: '1152*896',
  image_number: 1,
  output_format: 'png',
  image_seed: -1,
  read_wildcards_in_order: false,
  sharpness: 2.0,
  guidance_scale: 4.0,
  base_model_name: 'juggernautXL_v8Rundiffusion.safetensors',
  refiner_model_name: 'None',
  refiner_switch: 0.5,
  loras: [
    { enabled: true, model_name: 'sd_xl_offset_example-lora_1.0.safetensors', weight: 0.1 },
    { enabled: true, model_name: 'None', weight: 1.0 },
    { enabled: true, model_name: 'None', weight: 1.0 },
    { enabled: true, model_name: 'None', weight: 1.0 },
    { enabled: true, model_name: 'None', weight: 1.0 },
  ],
  input_image_checkbox: false,
  current_tab: 'uov',
  uov_method: 'Disabled',
  uov_input_image: 'None',
  outpaint_selections: [],
  inpaint_input_image: 'None',
  inpaint_additional_prompt: '',
  inpaint_mask_image_upload: 'None',
  disable_preview: false,
  disable_intermediate_results: false,
  disable_seed_increment: false,
  black_out_nsfw: false,
  adm_scaler_positive: 1.5,
  adm_scaler_negative: 0.8,
  adm_scaler_end: 0.3,
  adaptive_cfg: 7.0,
  clip_skip: 2,
  sampler_name: 'dpmpp_2m_sde_gpu',
  scheduler_name: 'karras',
  vae_name: 'Default (model)',
  overwrite_step: -1,
  overwrite_switch: -1,
  overwrite_width: -1,
  overwrite_height: -1,
  overwrite_vary_strength: -1,
  overwrite_upscale_strength: -1,
  mixing_image_prompt_and_vary_upscale: false,
  mixing_image_prompt_and_inpaint: false,
  debugging_cn_preprocessor: false,
  skipping_cn_preprocessor: false,
  canny_low_threshold: 64,
  canny_high_threshold: 128,
  refiner_swap_method: 'joint',
  controlnet_softness: 0.25,
  freeu_enabled: false,
  freeu_b1: 1.01,
  freeu_b2: 1.02,
  freeu_s1: 0.99,
  freeu_s2: 0.95,
  debugging_inpaint_preprocessor: false,
  inpaint_disable_initial_latent: false,
  inpaint_engine: 'v2.6',
  inpaint_strength: 1.0,
  inpaint_respective_field: 0.618,
  inpaint_advanced_masking_checkbox: false,
  invert_mask_checkbox: false,
  inpaint_erode_or_dilate: 0,
  save_final_enhanced_image_only: false,
  save_metadata_to_images: true,
  metadata_scheme: 'fooocus',
  controlnet_image: [{ cn_img: null, cn_stop: 0.6, cn_weight: 0.6, cn_type: 'ImagePrompt' }],
  debugging_dino: false,
  dino_erode_or_dilate: 0,
  debugging_enhance_masks_checkbox: false,
  enhance_input_image: 'None',
  enhance_checkbox: false,
  enhance_uov_method: 'Disabled',
  enhance_uov_processing_order: 'Before First Enhancement',
  enhance_uov_prompt_type: 'Original Prompts',
  enhance_ctrls: [],
  generate_image_grid: false,
  outpaint_distance: [0, 0, 0, 0],
  upscale_multiple: 1.0,
  preset: 'initial',
  stream_output: false,
  require_base64: false,
  async_process: false,
  webhook_url: '',
};

function issuesOf(body: unknown) {
  try {
    parseCommonRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).detail;
  }
  throw new Error('expected a ValidationError');
}

describe('CommonRequest defaults', () => {
  it('fills every field of {} exactly as the contract lists (save_name stays unset)', () => {
    const parsed = parseCommonRequest({});
    expect(parsed).toEqual(CONTRACT_DEFAULTS);
    expect('save_name' in parsed).toBe(false);
    expect(defaultCommonRequest()).toEqual(CONTRACT_DEFAULTS);
  });

  it('fills defaults inside nested entries', () => {
    const parsed = parseCommonRequest({
      loras: [{ enabled: false, model_name: 'x.safetensors' }],
      controlnet_image: [{ cn_img: 'https://example.com/a.png' }],
      enhance_ctrls: [{ enhance_enabled: true }],
    });
    expect(parsed.loras).toEqual([{ enabled: false, model_name: 'x.safetensors', weight: 0.5 }]);
    expect(parsed.controlnet_image).toEqual([{ cn_img: 'https://example.com/a.png', cn_stop: 0.6, cn_weight: 0.6, cn_type: 'ImagePrompt' }]);
    expect(parsed.enhance_ctrls[0]).toEqual({
      enhance_enabled: true,
      enhance_mask_dino_prompt: '',
      enhance_prompt: '',
      enhance_negative_prompt: '',
      enhance_mask_model: 'sam',
      enhance_mask_cloth_category: 'full',
      enhance_mask_sam_model: 'vit_b',
      enhance_mask_text_threshold: 0.25,
      enhance_mask_box_threshold: 0.3,
      enhance_mask_sam_max_detections: 0,
      enhance_inpaint_disable_initial_latent: false,
      enhance_inpaint_engine: 'v2.6',
      enhance_inpaint_strength: 1,
      enhance_inpaint_respective_field: 0.618,
      enhance_inpaint_erode_or_dilate: 0,
      enhance_mask_invert: false,
    });
  });

  it('ignores unknown fields like pydantic extra="ignore"', () => {
    expect(parseCommonRequest({ nonsense: 1, prompt: 'x' })).not.toHaveProperty('nonsense');
  });
});

describe('CommonRequest coercions (pydantic lax mode)', () => {
  it('accepts numeric strings for int/float fields and boolean words for bool fields', () => {
    const parsed = parseCommonRequest({ image_number: '3', sharpness: '2.5', stream_output: 'true', async_process: 'no', freeu_enabled: 1 });
    expect(parsed).toMatchObject({ image_number: 3, sharpness: 2.5, stream_output: true, async_process: false, freeu_enabled: true });
  });

  it('rejects numbers for StrictStr fields', () => {
    expect(issuesOf({ prompt: 5 })).toEqual([{ type: 'string_type', loc: ['body', 'prompt'], msg: 'Input should be a valid string', input: 5 }]);
  });

  it('keeps big seeds exact as decimal strings and accepts bigint from a lossless parser', () => {
    expect(parseCommonRequest({ image_seed: '9223372036854775807' }).image_seed).toBe('9223372036854775807');
    expect(parseCommonRequest({ image_seed: 9223372036854775807n }).image_seed).toBe('9223372036854775807');
    expect(parseCommonRequest({ image_seed: null }).image_seed).toBeNull();
  });

  it('rejects fractional and non-numeric seeds', () => {
    expect(issuesOf({ image_seed: 1.5 })[0]).toMatchObject({ type: 'int_from_float', loc: ['body', 'image_seed'] });
    expect(issuesOf({ image_seed: 'abc' })[0]).toMatchObject({ type: 'int_parsing', loc: ['body', 'image_seed'] });
  });
});

describe('CommonRequest range and enum violations name the field', () => {
  const cases: [string, Record<string, unknown>, (string | number)[], string][] = [
    ['image_number above 32', { image_number: 33 }, ['image_number'], 'less_than_equal'],
    ['image_number below 1', { image_number: 0 }, ['image_number'], 'greater_than_equal'],
    ['image_number fractional', { image_number: 1.5 }, ['image_number'], 'int_from_float'],
    ['sharpness above 30', { sharpness: 31 }, ['sharpness'], 'less_than_equal'],
    ['guidance_scale below 1', { guidance_scale: 0.5 }, ['guidance_scale'], 'greater_than_equal'],
    ['refiner_switch below 0.1', { refiner_switch: 0.05 }, ['refiner_switch'], 'greater_than_equal'],
    ['adm_scaler_positive above 3', { adm_scaler_positive: 3.5 }, ['adm_scaler_positive'], 'less_than_equal'],
    ['adm_scaler_negative below 0', { adm_scaler_negative: -0.1 }, ['adm_scaler_negative'], 'greater_than_equal'],
    ['adm_scaler_end above 1', { adm_scaler_end: 1.1 }, ['adm_scaler_end'], 'less_than_equal'],
    ['adaptive_cfg above 30', { adaptive_cfg: 31 }, ['adaptive_cfg'], 'less_than_equal'],
    ['clip_skip above 12', { clip_skip: 13 }, ['clip_skip'], 'less_than_equal'],
    ['clip_skip below 1', { clip_skip: 0 }, ['clip_skip'], 'greater_than_equal'],
    ['overwrite_width above 2048', { overwrite_width: 4096 }, ['overwrite_width'], 'less_than_equal'],
    ['overwrite_height below -1', { overwrite_height: -2 }, ['overwrite_height'], 'greater_than_equal'],
    ['overwrite_vary_strength above 1', { overwrite_vary_strength: 1.5 }, ['overwrite_vary_strength'], 'less_than_equal'],
    ['overwrite_upscale_strength below -1', { overwrite_upscale_strength: -2 }, ['overwrite_upscale_strength'], 'greater_than_equal'],
    ['canny_low_threshold below 1', { canny_low_threshold: 0 }, ['canny_low_threshold'], 'greater_than_equal'],
    ['canny_high_threshold above 255', { canny_high_threshold: 256 }, ['canny_high_threshold'], 'less_than_equal'],
    ['controlnet_softness above 1', { controlnet_softness: 2 }, ['controlnet_softness'], 'less_than_equal'],
    ['inpaint_strength above 1', { inpaint_strength: 1.5 }, ['inpaint_strength'], 'less_than_equal'],
    ['inpaint_respective_field below 0', { inpaint_respective_field: -0.5 }, ['inpaint_respective_field'], 'greater_than_equal'],
    ['inpaint_erode_or_dilate above 64', { inpaint_erode_or_dilate: 65 }, ['inpaint_erode_or_dilate'], 'less_than_equal'],
    ['dino_erode_or_dilate below -64', { dino_erode_or_dilate: -65 }, ['dino_erode_or_dilate'], 'greater_than_equal'],
    ['upscale_multiple above 5', { upscale_multiple: 6 }, ['upscale_multiple'], 'less_than_equal'],
    ['lora weight above 2', { loras: [{ enabled: true, model_name: 'a', weight: 2.5 }] }, ['loras', 0, 'weight'], 'less_than_equal'],
    ['lora without enabled', { loras: [{ model_name: 'a' }] }, ['loras', 0, 'enabled'], 'missing'],
    ['lora without model_name', { loras: [{ enabled: true }] }, ['loras', 0, 'model_name'], 'missing'],
    ['cn_stop above 1', { controlnet_image: [{ cn_stop: 1.5 }] }, ['controlnet_image', 0, 'cn_stop'], 'less_than_equal'],
    ['cn_weight above 2', { controlnet_image: [{ cn_weight: 2.5 }] }, ['controlnet_image', 0, 'cn_weight'], 'less_than_equal'],
    ['cn_type unknown', { controlnet_image: [{ cn_type: 'Depth' }] }, ['controlnet_image', 0, 'cn_type'], 'enum'],
    ['enhance threshold above 1', { enhance_ctrls: [{ enhance_mask_box_threshold: 2 }] }, ['enhance_ctrls', 0, 'enhance_mask_box_threshold'], 'less_than_equal'],
    ['enhance detections above 10', { enhance_ctrls: [{ enhance_mask_sam_max_detections: 11 }] }, ['enhance_ctrls', 0, 'enhance_mask_sam_max_detections'], 'less_than_equal'],
    ['enhance mask model unknown', { enhance_ctrls: [{ enhance_mask_model: 'yolo' }] }, ['enhance_ctrls', 0, 'enhance_mask_model'], 'enum'],
    ['more than 3 enhance tabs', { enhance_ctrls: [{}, {}, {}, {}] }, ['enhance_ctrls'], 'too_long'],
    ['performance unknown', { performance_selection: 'Turbo' }, ['performance_selection'], 'enum'],
    ['uov_method unknown', { uov_method: 'Upscale (3x)' }, ['uov_method'], 'enum'],
    ['enhance_uov_method unknown', { enhance_uov_method: 'Zoom' }, ['enhance_uov_method'], 'enum'],
    ['outpaint direction unknown', { outpaint_selections: ['Up'] }, ['outpaint_selections', 0], 'enum'],
    ['metadata_scheme a111 (documented typo)', { metadata_scheme: 'a111' }, ['metadata_scheme'], 'enum'],
    ['sampler unknown', { sampler_name: 'euler_x' }, ['sampler_name'], 'enum'],
    ['scheduler unknown', { scheduler_name: 'cosine' }, ['scheduler_name'], 'enum'],
    ['output_format unknown', { output_format: 'gif' }, ['output_format'], 'enum'],
    ['refiner_swap_method unknown', { refiner_swap_method: 'swap' }, ['refiner_swap_method'], 'enum'],
    ['inpaint_engine unknown', { inpaint_engine: 'v3' }, ['inpaint_engine'], 'enum'],
    ['outpaint_distance of 3 items', { outpaint_distance: [1, 2, 3] }, ['outpaint_distance'], 'too_short'],
    ['outpaint_distance negative', { outpaint_distance: [0, -5, 0, 0] }, ['outpaint_distance', 1], 'greater_than_equal'],
    ['style_selections not a list', { style_selections: 'Fooocus V2' }, ['style_selections'], 'list_type'],
    ['stream_output not a boolean', { stream_output: 'maybe' }, ['stream_output'], 'bool_parsing'],
    ['image_number not a number', { image_number: 'many' }, ['image_number'], 'int_parsing'],
    ['save_name null', { save_name: null }, ['save_name'], 'string_type'],
    ['save_name with a path', { save_name: '../etc/passwd' }, ['save_name'], 'file_name'],
    ['base model escaping its folder', { base_model_name: '../../secret.safetensors' }, ['base_model_name'], 'file_name'],
    ['image that is neither URL nor base64', { uov_input_image: 'not an image!' }, ['uov_input_image'], 'image_format'],
    ['image URL that is not http(s)', { inpaint_input_image: 'http//broken' }, ['inpaint_input_image'], 'image_format'],
  ];

  it.each(cases)('%s', (_name, body, loc, type) => {
    const issues = issuesOf(body);
    expect(issues).toHaveLength(1);
    expect(issues[0].loc).toEqual(['body', ...loc]);
    expect(issues[0].type).toBe(type);
    expect(issues[0].msg.length).toBeGreaterThan(0);
  });

  it('reports every bad field at once in FastAPI detail shape', () => {
    const issues = issuesOf({ image_number: 40, performance_selection: 'Fast', sharpness: -1 });
    expect(issues).toEqual([
      { type: 'enum', loc: ['body', 'performance_selection'], msg: "Input should be 'Quality', 'Speed', 'Extreme Speed', 'Lightning' or 'Hyper-SD'", input: 'Fast', ctx: { expected: "'Quality', 'Speed', 'Extreme Speed', 'Lightning' or 'Hyper-SD'" } },
      { type: 'less_than_equal', loc: ['body', 'image_number'], msg: 'Input should be less than or equal to 32', input: 40, ctx: { le: 32 } },
      { type: 'greater_than_equal', loc: ['body', 'sharpness'], msg: 'Input should be greater than or equal to 0', input: -1, ctx: { ge: 0 } },
    ]);
  });

  it('rejects a body that is not an object', () => {
    expect(issuesOf([1, 2])[0]).toMatchObject({ type: 'model_attributes_type', loc: ['body'] });
  });
});

describe('image strings', () => {
  it('accepts URLs, base64, data URLs and the "no image" markers', () => {
    for (const v of ['https://example.com/x.png', 'http://10.0.0.1:8080/a', 'iVBORw0KGgo=', 'data:image/png;base64,iVBORw0KGgo=', 'None', '', 'null', 'none', 'string', null]) {
      expect(() => parseCommonRequest({ uov_input_image: v }), String(v)).not.toThrow();
    }
  });
});

describe('legacy Fooocus-API names', () => {
  it('maps advanced_params and renamed fields onto FooocusAPI names', () => {
    const parsed = parseCommonRequest({
      advanced_params: { adaptive_cfg: 5, sampler_name: 'euler', disable_seed_increment: true },
      save_meta: false,
      meta_scheme: 'a111',
      save_extension: 'webp',
      upscale_value: 2.5,
      input_mask: 'https://example.com/m.png',
      outpaint_distance_left: 10,
      outpaint_distance_bottom: -1,
      image_prompts: [{ cn_img: 'https://example.com/a.png', cn_stop: 0, cn_weight: 0, cn_type: 'FaceSwap' }],
    });
    expect(parsed).toMatchObject({
      adaptive_cfg: 5,
      sampler_name: 'euler',
      disable_seed_increment: true,
      save_metadata_to_images: false,
      metadata_scheme: 'a1111',
      output_format: 'webp',
      upscale_multiple: 2.5,
      inpaint_mask_image_upload: 'https://example.com/m.png',
      outpaint_distance: [10, 0, 0, 0],
      controlnet_image: [{ cn_img: 'https://example.com/a.png', cn_stop: 0.9, cn_weight: 0.75, cn_type: 'FaceSwap' }],
    });
  });

  it('lets the FooocusAPI name win over its alias', () => {
    expect(parseCommonRequest({ adaptive_cfg: 9, advanced_params: { adaptive_cfg: 5 } }).adaptive_cfg).toBe(9);
  });

  it('reports errors under the name the client used', () => {
    expect(issuesOf({ advanced_params: { clip_skip: 40 } })[0].loc).toEqual(['body', 'advanced_params', 'clip_skip']);
  });

  it('maps input_image only when the route says which tab it is', () => {
    expect(parseCommonRequest({ input_image: 'https://e.com/a.png' }).uov_input_image).toBe('None');
    expect(parseCommonRequest({ input_image: 'https://e.com/a.png' }, { legacyInputImageTarget: 'inpaint' }).inpaint_input_image).toBe(
      'https://e.com/a.png',
    );
  });
});

describe('JSON Schema for OpenAPI 3.1', () => {
  it('describes every field with its default, range and enum', () => {
    const schema = commonRequestJsonSchema() as { properties: Record<string, Record<string, unknown>>; required?: string[] };
    expect(Object.keys(schema.properties)).toHaveLength(Object.keys(CONTRACT_DEFAULTS).length + 1); // + save_name
    expect(schema.required ?? []).toEqual([]);
    expect(schema.properties.image_number).toMatchObject({ type: 'integer', minimum: 1, maximum: 32, default: 1 });
    expect(schema.properties.sharpness).toMatchObject({ type: 'number', minimum: 0, maximum: 30, default: 2 });
    expect(schema.properties.stream_output).toMatchObject({ type: 'boolean', default: false });
    expect(schema.properties.performance_selection).toMatchObject({ enum: ['Quality', 'Speed', 'Extreme Speed', 'Lightning', 'Hyper-SD'], default: 'Speed' });
    for (const [name, prop] of Object.entries(schema.properties)) {
      expect(typeof prop.description, name).toBe('string');
    }
  });
});
