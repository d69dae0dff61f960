import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import type { PresetMap } from '../presets/loadPresets.ts';
import { parseCommonRequest, type CommonRequestInput } from './commonRequest.ts';
import { detectCurrentTab, normaliseRequest, roundHalfEven, type NormaliseOptions } from './normaliseRequest.ts';

const IMG = 'https://example.com/img.png';
const B64 = 'data:image/png;base64,iVBORw0KGgo=';
const fixedRandom = () => 1234567890123456789n;

function job(body: CommonRequestInput | Record<string, unknown>, options: NormaliseOptions = {}) {
  return normaliseRequest(parseCommonRequest(body), { random: fixedRandom, ...options });
}

function validationIssues(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).detail;
  }
  throw new Error('expected a ValidationError');
}

describe('normaliseRequest: defaults', () => {
  it('turns {} into the default text-to-image job', () => {
    const j = job({});
    expect(j).toMatchObject({
      version: 1,
      currentTab: 'uov',
      preset: 'initial',
      prompt: '',
      styles: ['Fooocus Enhance', 'Fooocus Sharp'],
      useExpansion: true,
      performance: 'Speed',
      steps: 30,
      uovSteps: 18,
      refinerSwitchStep: 15,
      sampler: 'dpmpp_2m_sde_gpu',
      scheduler: 'karras',
      cfg: 4,
      sharpness: 2,
      adaptiveCfg: 7,
      admScalers: { positive: 1.5, negative: 0.8, end: 0.3 },
      clipSkip: 2,
      aspectRatio: '1152×896',
      width: 1152,
      height: 896,
      imageNumber: 1,
      seed: '1234567890123456789',
      imageSeeds: ['1234567890123456789'],
      baseModel: 'juggernautXL_v8Rundiffusion.safetensors',
      refinerModel: null,
      vae: 'Default (model)',
      loras: [{ name: 'sd_xl_offset_example-lora_1.0.safetensors', weight: 0.1 }],
      performanceLora: null,
      output: { format: 'png', extension: 'png', saveName: null, saveMetadata: true, metadataScheme: 'fooocus' },
      webhookUrl: '',
    });
    expect(j.imagePrompts).toHaveLength(4);
    expect(j.enhance.tabs).toHaveLength(3);
    expect(j.enhance.tabs.every((t) => !t.enabled)).toBe(true);
    // Jobs travel through the database and the queue as JSON.
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });

  it('records req_params with the processed values', () => {
    const p = job({ prompt: 'x', loras: [{ enabled: true, model_name: 'a.safetensors', weight: 0.7 }] }).reqParams;
    expect(p).toMatchObject({
      prompt: 'x',
      aspect_ratios_selection: '1152×896',
      image_seed: '1234567890123456789',
      input_image_checkbox: true,
      inpaint_advanced_masking_checkbox: false,
      invert_mask_checkbox: false,
      current_tab: 'uov',
      loras: [true, 'a.safetensors', 0.7, true, 'None', 1, true, 'None', 1, true, 'None', 1, true, 'None', 1],
      uov_input_image: '',
      inpaint_input_image: '',
      inpaint_mask_image_upload: '',
      enhance_input_image: '',
      save_name: null,
    });
    expect(p.controlnet_image).toEqual(Array(4).fill({ cn_img: '', cn_stop: 0.6, cn_weight: 0.6, cn_type: 'ImagePrompt' }));
    expect(p.enhance_ctrls).toHaveLength(3);
    expect(JSON.parse(JSON.stringify(p))).toEqual(p); // plain JSON, no bigint
  });
});

describe('current_tab detection (§2.2 step 9)', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['nothing set keeps the default', {}, 'uov'],
    ['nothing set keeps the client value', { current_tab: 'inpaint' }, 'inpaint'],
    ['uov image', { uov_input_image: IMG }, 'uov'],
    ['inpaint image', { inpaint_input_image: B64, current_tab: 'uov' }, 'inpaint'],
    ['uov beats inpaint', { uov_input_image: IMG, inpaint_input_image: IMG }, 'uov'],
    ['controlnet slot 0 beats uov', { uov_input_image: IMG, controlnet_image: [{ cn_img: IMG }] }, 'ip'],
    ['only slot 0 counts', { controlnet_image: [{ cn_img: null }, { cn_img: IMG }], current_tab: 'inpaint' }, 'inpaint'],
    ['enhance beats everything', { enhance_input_image: IMG, controlnet_image: [{ cn_img: IMG }], uov_input_image: IMG }, 'enhance'],
    ['"None"/"null"/"string" are no image', { uov_input_image: 'string', inpaint_input_image: 'null', enhance_input_image: 'None', current_tab: 'ip' }, 'ip'],
  ];
  it.each(cases)('%s', (_name, body, tab) => {
    expect(job(body).currentTab).toBe(tab);
    expect(detectCurrentTab(parseCommonRequest(body))).toBe(tab);
  });

  it('forces image_number to 1 on the enhance tab but keeps the request value in req_params', () => {
    const j = job({ enhance_input_image: IMG, image_number: 4 });
    expect(j.imageNumber).toBe(1);
    expect(j.reqParams.image_number).toBe(4);
  });
});

describe('forced flags and image inputs', () => {
  it('sets advanced masking iff a mask is supplied and never inverts', () => {
    const withMask = job({ inpaint_input_image: IMG, inpaint_mask_image_upload: B64, invert_mask_checkbox: true });
    expect(withMask.inpaint).toMatchObject({ advancedMasking: true, invertMask: false });
    expect(withMask.inpaint.mask).toEqual({ kind: 'base64', data: 'iVBORw0KGgo=', mediaType: 'image/png' });
    expect(withMask.reqParams).toMatchObject({ inpaint_advanced_masking_checkbox: true, invert_mask_checkbox: false, input_image_checkbox: true });
    const noMask = job({ inpaint_input_image: IMG, inpaint_advanced_masking_checkbox: true });
    expect(noMask.inpaint.advancedMasking).toBe(false);
    expect(noMask.inpaint.image).toEqual({ kind: 'url', url: IMG });
  });

  it('pads / truncates LoRAs to 5 and controlnet slots to 4, resolving null stop/weight per type', () => {
    const loras = Array.from({ length: 7 }, (_, i) => ({ enabled: i !== 1, model_name: `l${i}.safetensors`, weight: 1 }));
    const j = job({ loras, controlnet_image: [{ cn_img: IMG, cn_type: 'PyraCanny', cn_stop: null, cn_weight: null }] });
    expect(j.loras.map((l) => l.name)).toEqual(['l0.safetensors', 'l2.safetensors', 'l3.safetensors', 'l4.safetensors']);
    expect((j.reqParams.loras as unknown[]).length).toBe(15);
    expect(j.imagePrompts[0]).toEqual({ image: { kind: 'url', url: IMG }, stop: 0.5, weight: 1.0, type: 'PyraCanny' });
    expect(j.imagePrompts.slice(1)).toEqual(Array(3).fill({ image: null, stop: 0.6, weight: 0.6, type: 'ImagePrompt' }));
  });

  it('maps jpg to the JPEG encoder with a .jpg extension', () => {
    expect(job({ output_format: 'jpg' }).output).toMatchObject({ format: 'jpeg', extension: 'jpg' });
  });

  it('resolves an empty webhook_url to the server default', () => {
    expect(job({ webhook_url: '' }, { defaultWebhookUrl: 'http://hook' }).webhookUrl).toBe('http://hook');
    expect(job({ webhook_url: null }, { defaultWebhookUrl: 'http://hook' }).reqParams.webhook_url).toBe('http://hook');
    expect(job({ webhook_url: 'http://mine' }, { defaultWebhookUrl: 'http://hook' }).webhookUrl).toBe('http://mine');
  });

  it('forces one image for a binary response', () => {
    expect(job({ image_number: 5 }, { binaryResponse: true }).imageSeeds).toHaveLength(1);
  });

  it('rejects an unknown style naming its position', () => {
    const issues = validationIssues(() => job({ style_selections: ['Fooocus V2', 'Bogus Style'] }));
    expect(issues).toEqual([expect.objectContaining({ type: 'style_unknown', loc: ['body', 'style_selections', 1], input: 'Bogus Style' })]);
  });

  it('disables the refiner when it equals the base model', () => {
    expect(job({ refiner_model_name: 'juggernautXL_v8Rundiffusion.safetensors' }).refinerModel).toBeNull();
    expect(job({ refiner_model_name: 'r.safetensors' }).refinerModel).toBe('r.safetensors');
  });
});

describe('aspect ratio', () => {
  it.each([
    ['1152*896', 1152, 896],
    ['1024×1024', 1024, 1024],
    ['896×1152 <span style="color: grey;"> ∣ 7:9</span>', 896, 1152],
    [' 704 * 1408 ', 704, 1408],
  ])('parses %j', (value, width, height) => {
    expect(job({ aspect_ratios_selection: value })).toMatchObject({ width, height, aspectRatio: `${width}×${height}` });
  });

  it.each(['1024x1024', '1024', 'abc', '1024*', '-5*10', '10.5*20'])('rejects %j naming the field', (value) => {
    const issues = validationIssues(() => job({ aspect_ratios_selection: value }));
    expect(issues[0]).toMatchObject({ loc: ['body', 'aspect_ratios_selection'], type: 'aspect_ratio_format' });
  });

  it('rejects sizes over the pixel limit and below the minimum side', () => {
    expect(validationIssues(() => job({ aspect_ratios_selection: '4096*4096' }))[0]).toMatchObject({
      loc: ['body', 'aspect_ratios_selection'],
      type: 'image_size',
      ctx: { max_pixels: 2048 * 2048 },
    });
    expect(validationIssues(() => job({ aspect_ratios_selection: '1024*1024' }, { maxPixels: 1000 * 1000 }))[0].type).toBe('image_size');
    expect(job({ aspect_ratios_selection: '1000*1000' }, { maxPixels: 1000 * 1000 }).width).toBe(1000);
    expect(validationIssues(() => job({ aspect_ratios_selection: '32*1024' }))[0].type).toBe('image_size');
  });

  it('applies overwrite_width/height and checks the final size against the limit', () => {
    expect(job({ overwrite_width: 640, overwrite_height: 512 })).toMatchObject({ width: 640, height: 512, aspectRatio: '1152×896' });
    expect(job({ overwrite_width: 2048 })).toMatchObject({ width: 2048, height: 896 });
    expect(validationIssues(() => job({ overwrite_width: 2048, overwrite_height: 2048 }, { maxPixels: 2_000_000 }))[0].loc).toEqual([
      'body',
      'overwrite_width',
    ]);
  });
});

describe('seeds', () => {
  it('keeps a valid seed and increments it per image', () => {
    expect(job({ image_seed: 41, image_number: 3 }).imageSeeds).toEqual(['41', '42', '43']);
  });

  it('wraps at 2^63', () => {
    expect(job({ image_seed: '9223372036854775806', image_number: 3 }).imageSeeds).toEqual(['9223372036854775806', '9223372036854775807', '0']);
  });

  it('repeats the seed with disable_seed_increment', () => {
    expect(job({ image_seed: 7, image_number: 3, disable_seed_increment: true }).imageSeeds).toEqual(['7', '7', '7']);
  });

  it.each([[-1], [null], [-2], ['9223372036854775808'], ['99999999999999999999']])('draws a random seed for %j', (seed) => {
    const j = job({ image_seed: seed as never, image_number: 2 });
    expect(j.seed).toBe('1234567890123456789');
    expect(j.imageSeeds).toEqual(['1234567890123456789', '1234567890123456790']);
    expect(j.reqParams.image_seed).toBe('1234567890123456789');
  });

  it('accepts 0 and 2^63-1', () => {
    expect(job({ image_seed: 0 }).seed).toBe('0');
    expect(job({ image_seed: '9223372036854775807' }).seed).toBe('9223372036854775807');
  });

  it('uses a real random source by default (63-bit, varying)', () => {
    const a = normaliseRequest(parseCommonRequest({})).seed;
    const b = normaliseRequest(parseCommonRequest({})).seed;
    expect(BigInt(a) >= 0n && BigInt(a) < 2n ** 63n).toBe(true);
    expect(a).not.toBe(b);
  });
});

describe('performance modes (§7.1)', () => {
  const user = {
    sampler_name: 'euler_ancestral',
    scheduler_name: 'exponential',
    guidance_scale: 6,
    sharpness: 5,
    adaptive_cfg: 9,
    refiner_model_name: 'refiner.safetensors',
    refiner_switch: 0.7,
    adm_scaler_positive: 2,
    adm_scaler_negative: 0.5,
    adm_scaler_end: 0.6,
  } as const;

  it.each([
    ['Quality', 60, 36, 42, 25],
    ['Speed', 30, 18, 21, 13],
  ] as const)('%s keeps the user values with %i steps', (performance, steps, uovSteps, switchStep, uovSwitchStep) => {
    const j = job({ ...user, performance_selection: performance });
    expect(j).toMatchObject({
      steps,
      uovSteps,
      refinerSwitchStep: switchStep,
      uovRefinerSwitchStep: uovSwitchStep,
      sampler: 'euler_ancestral',
      scheduler: 'exponential',
      cfg: 6,
      sharpness: 5,
      adaptiveCfg: 9,
      refinerModel: 'refiner.safetensors',
      refinerSwitch: 0.7,
      admScalers: { positive: 2, negative: 0.5, end: 0.6 },
      performanceLora: null,
    });
  });

  it.each([
    ['Extreme Speed', 8, 'lcm', 'lcm', 'sdxl_lcm_lora.safetensors', 1.0],
    ['Lightning', 4, 'euler', 'sgm_uniform', 'sdxl_lightning_4step_lora.safetensors', 1.0],
    ['Hyper-SD', 4, 'dpmpp_sde_gpu', 'karras', 'sdxl_hyper_sd_4step_lora.safetensors', 0.8],
  ] as const)('%s forces %i steps, %s/%s, its LoRA and the fast-mode values', (performance, steps, sampler, scheduler, lora, weight) => {
    const j = job({ ...user, performance_selection: performance });
    expect(j).toMatchObject({
      steps,
      uovSteps: steps,
      refinerSwitchStep: steps,
      sampler,
      scheduler,
      cfg: 1,
      sharpness: 0,
      adaptiveCfg: 1,
      refinerModel: null,
      refinerSwitch: 1,
      admScalers: { positive: 1, negative: 1, end: 0 },
      performanceLora: { name: lora, weight },
    });
    // The record keeps what the client sent.
    expect(j.reqParams).toMatchObject({ sampler_name: 'euler_ancestral', guidance_scale: 6, performance_selection: performance });
    // User LoRAs stay; the performance LoRA is separate.
    expect(j.loras).toEqual([{ name: 'sd_xl_offset_example-lora_1.0.safetensors', weight: 0.1 }]);
  });

  it('lets overwrite_step and overwrite_switch win, the switch still from the performance steps', () => {
    expect(job({ overwrite_step: 10 })).toMatchObject({ steps: 10, uovSteps: 10, refinerSwitchStep: 15 });
    expect(job({ overwrite_step: 10, overwrite_switch: 7 })).toMatchObject({ refinerSwitchStep: 7, uovRefinerSwitchStep: 7 });
    expect(job({ performance_selection: 'Lightning', overwrite_step: 6 })).toMatchObject({ steps: 6, refinerSwitchStep: 4 });
  });

  it('rounds the switch step half to even like Python', () => {
    expect(job({ refiner_switch: 0.75 }).refinerSwitchStep).toBe(22); // round(22.5) == 22
    expect(job({ performance_selection: 'Quality', refiner_switch: 0.75 }).refinerSwitchStep).toBe(45);
    expect([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3]);
  });
});

describe('presets', () => {
  const presets: PresetMap = new Map([
    [
      'anime',
      {
        default_model: 'animaPencilXL_v500.safetensors',
        default_cfg_scale: 6,
        default_styles: ['Fooocus V2', 'Fooocus Semi Realistic', 'Fooocus Masterpiece'],
        default_aspect_ratio: '896*1152',
        default_performance: 'Lightning',
      },
    ],
  ]);

  it('merges a preset and then applies its performance mode', () => {
    const j = job({ preset: 'anime' }, { presets });
    expect(j).toMatchObject({
      preset: 'anime',
      baseModel: 'animaPencilXL_v500.safetensors',
      styles: ['Fooocus Semi Realistic', 'Fooocus Masterpiece'],
      width: 896,
      height: 1152,
      performance: 'Lightning',
      steps: 4,
    });
    expect(j.reqParams).toMatchObject({ preset: 'anime', adaptive_cfg: 6, guidance_scale: 4, aspect_ratios_selection: '896×1152' });
  });

  it('can apply default_cfg_scale to guidance_scale instead', () => {
    // 'Quality' differs from the default, so the preset's Lightning (which forces cfg 1) does not apply.
    const j = job({ preset: 'anime', performance_selection: 'Quality' }, { presets, presetCfgScaleTarget: 'guidance_scale' });
    expect(j).toMatchObject({ performance: 'Quality', cfg: 6, adaptiveCfg: 7 });
  });

  it('rejects an unknown preset naming the available ones', () => {
    const issues = validationIssues(() => job({ preset: 'nope' }, { presets }));
    expect(issues[0]).toMatchObject({ loc: ['body', 'preset'], type: 'preset_unknown', input: 'nope', ctx: { available: ['anime'] } });
    expect(issues[0].msg).toContain('anime');
  });
});
