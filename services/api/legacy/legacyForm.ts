/**
 * The v1 multipart form conventions of the old project (api-contract §8.1) turned into the
 * old JSON body shape, which then takes the same mapping as the v2 JSON routes
 * (legacyRequest.ts):
 *
 *   - `style_selections`: one or more values, each comma-separated ("Fooocus V2,Fooocus Sharp");
 *   - `outpaint_selections`: comma-separated "Left,Right,Top,Bottom";
 *   - `loras`: a JSON string (`[{"enabled":true,"model_name":"…","weight":0.5}]`);
 *   - `advanced_params`: a JSON string (parsed by core's alias step; invalid JSON is a 422 —
 *     the old server silently fell back to all defaults, docs/compat.md);
 *   - files `input_image`, `input_mask`, `cn_img1..4` become `data:<type>;base64,…` strings,
 *     so they go through the same decode/size/pixel checks and storage as JSON images;
 *   - `cn_stop{n}` / `cn_weight{n}` / `cn_type{n}` build `image_prompts` (empty = the type's default);
 *   - form defaults that differ from JSON: save_meta=false, guidance_scale=7.0, sharpness=2.0;
 *   - an empty text value of a non-text field counts as absent (HTML forms send "").
 */
import { ValidationError } from '../../core/errors.ts';
import type { FormFile, MultipartForm } from './multipartForm.ts';

const FORM_DEFAULTS: Record<string, unknown> = { save_meta: false, guidance_scale: 7.0, sharpness: 2.0 };
/** Fields whose empty string is a value, not "absent". */
const TEXT_FIELDS = new Set(['prompt', 'negative_prompt', 'inpaint_additional_prompt', 'save_name', 'webhook_url']);
const LIST_FIELDS = new Set(['style_selections', 'outpaint_selections']);
const FILE_FIELDS = ['input_image', 'input_mask'] as const;
const CN_SLOTS = [1, 2, 3, 4] as const;

export function formToLegacyBody(form: MultipartForm): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, values] of form.fields) {
    if (/^cn_(stop|weight|type)\d$/.test(name)) continue;
    if (LIST_FIELDS.has(name)) {
      body[name] = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
      continue;
    }
    const value = values[values.length - 1];
    if (value === '' && !TEXT_FIELDS.has(name)) continue;
    body[name] = name === 'loras' ? parseJsonField(name, value) : value;
  }
  for (const [name, value] of Object.entries(FORM_DEFAULTS)) {
    if (body[name] === undefined) body[name] = value;
  }
  for (const name of FILE_FIELDS) {
    const file = form.files.get(name);
    if (file) body[name] = dataUrl(file);
  }
  const prompts = CN_SLOTS.flatMap((n) => {
    const file = form.files.get(`cn_img${n}`);
    if (!file) return [];
    const field = (k: string) => {
      const v = form.fields.get(`${k}${n}`)?.at(-1);
      return v === undefined || v === '' ? null : v;
    };
    return [{ cn_img: dataUrl(file), cn_stop: field('cn_stop'), cn_weight: field('cn_weight'), cn_type: field('cn_type') ?? 'ImagePrompt' }];
  });
  if (prompts.length > 0) body.image_prompts = prompts;
  return body;
}

/** Non-file fields as sent, for the old 422 body echo. */
export function formFieldsForEcho(form: MultipartForm): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of form.fields) out[k] = v.length === 1 ? v[0] : v;
  for (const [k, f] of form.files) out[k] = `<file ${f.filename || k}, ${f.bytes.length} bytes>`;
  return out;
}

function dataUrl(file: FormFile): string {
  const type = /^image\/[a-z0-9.+-]+$/i.test(file.mimeType) ? file.mimeType : 'image/png';
  return `data:${type};base64,${file.bytes.toString('base64')}`;
}

function parseJsonField(name: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (cause) {
    throw ValidationError.forField([name], `${name} must be a JSON string`, { type: 'json_invalid', input: value, cause });
  }
}
