/**
 * The Fooocus-API (old) routes in /openapi.json: paths and the response schemas, generated
 * from the same zod schemas the responses are built and tested with (legacyResponses.ts).
 * The old request bodies are described in prose: they are the CommonRequest under the old
 * names (api-contract §8.2, docs/compat.md), validated by the same schema after mapping.
 */
import { z } from 'zod';
import { asyncJobResponseSchema, generatedImageResultSchema, jobHistoryResponseSchema, jobQueueInfoSchema } from './legacyResponses.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const secured = [{ APIKeyHeader: [] }];
const tags = ['Fooocus-API (old)'];
const forbidden = json(ref('Forbidden'), 'Missing or wrong X-API-KEY.');
const invalid = json(
  { type: 'object', required: ['detail'], properties: { detail: { type: 'array', items: ref('ValidationIssue') }, body: {} } },
  'Validation error; the old server echoes the request body as `body`.',
);

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

export function legacyOpenApiSchemas(): Record<string, unknown> {
  return {
    GeneratedImageResult: schemaOf(generatedImageResultSchema),
    AsyncJobResponse: schemaOf(asyncJobResponseSchema),
    JobQueueInfo: schemaOf(jobQueueInfoSchema),
    JobHistoryResponse: schemaOf(jobHistoryResponseSchema),
  };
}

const generationResponses = {
  '200': {
    description:
      'Sync: a list of GeneratedImageResult. async_process: the AsyncJobResponse (stage WAITING). `accept=image/png` (header or query, exact) without async_process: the PNG of the first image.',
    content: {
      'application/json': { schema: { oneOf: [{ type: 'array', items: ref('GeneratedImageResult') }, ref('AsyncJobResponse')] } },
      'image/png': { schema: { type: 'string', contentEncoding: 'binary' } },
    },
  },
  '400': { description: 'Binary mode: the job was stopped before an image (`USER_CANCEL`, text/plain).' },
  '403': forbidden,
  '413': { description: 'Multipart: a file or the body is over MAX_IMAGE_BYTES / MAX_BODY_BYTES.' },
  '422': invalid,
  '500': { description: 'Binary mode: the job failed (`ERROR`, text/plain).' },
};
const acceptQuery = { name: 'accept', in: 'query', schema: { type: 'string' }, description: '`image/png` for a binary answer (overrides the Accept header).' };

function jsonRoute(summary: string, body: string) {
  return {
    post: {
      tags,
      summary,
      security: secured,
      parameters: [acceptQuery],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: body } } } },
      responses: generationResponses,
    },
  };
}

function formRoute(summary: string, body: string) {
  return {
    post: {
      tags,
      summary,
      security: secured,
      parameters: [acceptQuery],
      requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', description: body } } } },
      responses: generationResponses,
    },
  };
}

const COMMON = 'Old CommonRequest: prompt, negative_prompt, style_selections, performance_selection, aspect_ratios_selection, image_number, image_seed, sharpness, guidance_scale, base_model_name, refiner_model_name, refiner_switch, loras, advanced_params {…}, save_meta, meta_scheme, save_extension, save_name, read_wildcards_in_order, require_base64, async_process, webhook_url';
const FORM = 'Form fields as the JSON names; style_selections / outpaint_selections comma-separated; loras and advanced_params as JSON strings; defaults save_meta=false, guidance_scale=7.0, sharpness=2.0.';

export function legacyOpenApiPaths(): Record<string, unknown> {
  const jobIdQuery = { name: 'job_id', in: 'query', schema: { type: 'string' }, description: 'uuid (dashed) or 32 hex.' };
  return {
    '/v1/generation/text-to-image': jsonRoute('Text to image (Fooocus-API)', COMMON),
    '/v2/generation/text-to-image-with-ip': jsonRoute('Text to image with image prompts (Fooocus-API)', `${COMMON} + image_prompts`),
    '/v2/generation/image-upscale-vary': jsonRoute('Upscale or vary (Fooocus-API)', `${COMMON} + input_image (required), uov_method (default "Upscale (2x)"), upscale_value, image_prompts`),
    '/v2/generation/image-inpaint-outpaint': jsonRoute(
      'Inpaint or outpaint (Fooocus-API)',
      `${COMMON} + input_image, input_mask, inpaint_additional_prompt, outpaint_selections, outpaint_distance_left/right/top/bottom, image_prompts`,
    ),
    '/v2/generation/image-prompt': jsonRoute('Image prompt (Fooocus-API)', `${COMMON} + image_prompts (required), input_image, input_mask, inpaint/outpaint fields`),
    '/v1/generation/image-upscale-vary': formRoute('Upscale or vary, multipart (Fooocus-API)', `File input_image (required), uov_method (required), upscale_value. ${FORM}`),
    '/v1/generation/image-inpaint-outpaint': formRoute(
      'Inpaint or outpaint, multipart (Fooocus-API)',
      `File input_image (required), file input_mask, inpaint_additional_prompt, outpaint_selections, outpaint_distance_*. ${FORM}`,
    ),
    '/v1/generation/image-prompt': formRoute('Image prompt, multipart (Fooocus-API)', `Files cn_img1..4 with cn_stop{n}, cn_weight{n}, cn_type{n}; optional input_image, input_mask. ${FORM}`),
    '/v1/generation/query-job': {
      get: {
        tags,
        summary: 'Job status and results (Fooocus-API)',
        security: secured,
        parameters: [{ ...jobIdQuery, required: true }, { name: 'require_step_preview', in: 'query', schema: { type: 'boolean', default: false } }],
        responses: { '200': json(ref('AsyncJobResponse'), 'The job.'), '403': forbidden, '404': json(ref('AsyncJobResponse'), 'Unknown job: job_type "Not Found".'), '422': invalid },
      },
    },
    '/v1/generation/job-queue': {
      get: { tags, summary: 'Queue sizes (Fooocus-API)', security: secured, responses: { '200': json(ref('JobQueueInfo'), 'Sizes and the newest job.'), '403': forbidden } },
    },
    '/v1/generation/job-history': {
      get: {
        tags,
        summary: 'Queued and finished jobs; delete=true&job_id= deletes one (Fooocus-API)',
        security: secured,
        parameters: [
          jobIdQuery,
          { name: 'page', in: 'query', schema: { type: 'integer', default: 0 } },
          { name: 'page_size', in: 'query', schema: { type: 'integer', default: 20 } },
          { name: 'delete', in: 'query', schema: { type: 'boolean', default: false } },
        ],
        responses: {
          '200': json({ oneOf: [ref('JobHistoryResponse'), { type: 'object', properties: { message: { enum: ['Deleted', 'Not found'] } } }] }, 'History, or the delete outcome.'),
          '403': forbidden,
          '422': invalid,
        },
      },
    },
    '/v1/generation/stop': {
      post: { tags, summary: 'Stop the running job (Fooocus-API)', security: secured, responses: { '200': json({ type: 'object', properties: { msg: { const: 'success' } } }, 'Always success.'), '403': forbidden } },
    },
    '/ping': { get: { tags, summary: 'Liveness for Fooocus-API clients (needs the key, as the old server)', security: secured, responses: { '200': json({ const: 'pong' }, '"pong"'), '403': forbidden } } },
    '/files/{path}': {
      get: {
        tags,
        summary: 'An output image (Fooocus-API path; same as /outputs/{path}); no auth',
        parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'The image (converted for an exact Accept: image/png|jpeg|webp).' }, '404': { description: 'No such output.' } },
      },
    },
  };
}
