import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.ts';
import { formToLegacyBody } from './legacyForm.ts';
import type { MultipartForm } from './multipartForm.ts';

const form = (fields: Record<string, string | string[]>, files: Record<string, Buffer> = {}): MultipartForm => ({
  fields: new Map(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  files: new Map(Object.entries(files).map(([k, bytes]) => [k, { bytes, mimeType: 'image/png', filename: `${k}.png` }])),
});

describe('formToLegacyBody (v1 multipart conventions)', () => {
  it('splits comma lists, parses loras JSON, keeps advanced_params as text and applies the form defaults', () => {
    const body = formToLegacyBody(
      form({
        style_selections: ['Fooocus V2,Fooocus Sharp', 'Fooocus Enhance'],
        outpaint_selections: 'Left, Top',
        loras: '[{"model_name":"a.safetensors","weight":0.3}]',
        advanced_params: '{"overwrite_step": 2}',
        image_number: '2',
        upscale_value: '',
      }),
    );
    expect(body).toEqual({
      style_selections: ['Fooocus V2', 'Fooocus Sharp', 'Fooocus Enhance'],
      outpaint_selections: ['Left', 'Top'],
      loras: [{ model_name: 'a.safetensors', weight: 0.3 }],
      advanced_params: '{"overwrite_step": 2}',
      image_number: '2',
      save_meta: false,
      guidance_scale: 7.0,
      sharpness: 2.0,
    });
  });

  it('an explicit empty style_selections means no styles; an explicit guidance_scale wins', () => {
    const body = formToLegacyBody(form({ style_selections: '', guidance_scale: '4' }));
    expect(body.style_selections).toEqual([]);
    expect(body.guidance_scale).toBe('4');
  });

  it('files become data URLs; cn_img{n} with its stop/weight/type build image_prompts', () => {
    const png = Buffer.from('89504e47', 'hex');
    const body = formToLegacyBody(form({ cn_stop2: '0.4', cn_weight2: '', cn_type2: 'CPDS' }, { input_image: png, cn_img2: png }));
    expect(body.input_image).toBe(`data:image/png;base64,${png.toString('base64')}`);
    expect(body.image_prompts).toEqual([{ cn_img: body.input_image, cn_stop: '0.4', cn_weight: null, cn_type: 'CPDS' }]);
  });

  it('invalid loras JSON is a 422 at body.loras', () => {
    try {
      formToLegacyBody(form({ loras: '[{' }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).issues[0]).toMatchObject({ type: 'json_invalid', loc: ['body', 'loras'] });
    }
  });
});
