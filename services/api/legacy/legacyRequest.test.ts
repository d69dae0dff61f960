import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.ts';
import { parseCommonRequest } from '../../core/request/commonRequest.ts';
import { normaliseRequest } from '../../core/request/normaliseRequest.ts';
import { mapLegacyRequest } from './legacyRequest.ts';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const toJob = (m: ReturnType<typeof mapLegacyRequest>) => normaliseRequest(parseCommonRequest(m.body, m.parseOptions), { random: () => 7n });

describe('mapLegacyRequest', () => {
  it('text-to-image: advanced_params and the renamed fields reach the CommonRequest', () => {
    const m = mapLegacyRequest('text-to-image', 1, {
      prompt: 'a cat',
      save_meta: false,
      meta_scheme: 'a111',
      save_extension: 'webp',
      advanced_params: { overwrite_step: 3, sampler_name: 'euler' },
      loras: [{ model_name: 'x.safetensors', weight: 0.4 }],
    });
    const r = parseCommonRequest(m.body, m.parseOptions);
    expect(r).toMatchObject({ prompt: 'a cat', save_metadata_to_images: false, metadata_scheme: 'a1111', output_format: 'webp', overwrite_step: 3, sampler_name: 'euler' });
    expect(r.loras).toEqual([{ enabled: true, model_name: 'x.safetensors', weight: 0.4 }]);
    expect(m.jobType).toBe('Text to Image');
  });

  it('text-to-image ignores image fields the old route did not have', () => {
    const m = mapLegacyRequest('text-to-image', 1, { uov_input_image: PNG, uov_method: 'Vary (Strong)', image_prompts: [{ cn_img: PNG }] });
    expect(m.body).toEqual({});
    expect(toJob(m).currentTab).toBe('uov');
    expect(toJob(m).uov.image).toBeNull();
  });

  it('image-upscale-vary (v2): input_image → uov_input_image, default method Upscale (2x), required input_image', () => {
    const job = toJob(mapLegacyRequest('image-upscale-vary', 2, { input_image: PNG, upscale_value: 1.5 }));
    expect(job.currentTab).toBe('uov');
    expect(job.uov.method).toBe('Upscale (2x)');
    expect(job.uov.image).toMatchObject({ kind: 'base64' });
    expect(job.uov.upscaleMultiple).toBe(1.5);
    expect(() => mapLegacyRequest('image-upscale-vary', 2, {})).toThrow(ValidationError);
    try {
      mapLegacyRequest('image-upscale-vary', 2, {});
    } catch (e) {
      expect((e as ValidationError).issues[0]).toMatchObject({ type: 'missing', loc: ['body', 'input_image'] });
    }
  });

  it('image-inpaint-outpaint (v2): image, mask, distances in [left, top, right, bottom]', () => {
    const job = toJob(
      mapLegacyRequest('image-inpaint-outpaint', 2, {
        input_image: PNG,
        input_mask: PNG,
        outpaint_selections: ['Left', 'Top'],
        outpaint_distance_left: 10,
        outpaint_distance_right: 30,
        outpaint_distance_top: -1,
        outpaint_distance_bottom: 40,
      }),
    );
    expect(job.currentTab).toBe('inpaint');
    expect(job.inpaint.mask).toMatchObject({ kind: 'base64' });
    expect(job.inpaint.outpaintDistance).toEqual({ left: 10, top: 0, right: 30, bottom: 40 });
  });

  it('image-prompt (v2): image_prompts required; with an inpaint image the mixing flag is set, 0 stop/weight = type defaults', () => {
    expect(() => mapLegacyRequest('image-prompt', 2, { input_image: PNG })).toThrow(ValidationError);
    const m = mapLegacyRequest('image-prompt', 2, { input_image: PNG, image_prompts: [{ cn_img: PNG, cn_stop: 0, cn_weight: 0, cn_type: 'PyraCanny' }] });
    const job = toJob(m);
    expect(m.jobType).toBe('Image Prompt');
    expect(job.currentTab).toBe('ip');
    expect(job.controlnet.mixingImagePromptAndInpaint).toBe(true);
    expect(job.imagePrompts[0]).toMatchObject({ type: 'PyraCanny', stop: 0.5, weight: 1.0 });
  });

  it('reads the response flags and reports a bad advanced_params value at its own path', () => {
    const m = mapLegacyRequest('text-to-image', 1, { async_process: 'true', require_base64: true, advanced_params: { clip_skip: 99 } });
    expect([m.asyncProcess, m.requireBase64]).toEqual([true, true]);
    try {
      parseCommonRequest(m.body, m.parseOptions);
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).issues[0].loc).toEqual(['body', 'advanced_params', 'clip_skip']);
    }
  });

  it('a non-object body is a 422', () => {
    expect(() => mapLegacyRequest('text-to-image', 1, [1, 2])).toThrow(ValidationError);
  });
});
