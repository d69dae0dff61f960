/**
 * The OpenAPI 3.1 document served at /openapi.json (ecosystem.md A8), generated from the
 * same zod schemas the routes validate with (z.toJSONSchema, JSON Schema 2020-12), so the
 * spec and the behaviour cannot drift: CommonRequest, the tool requests, the record shapes,
 * the stream event. Tests validate real responses against these component schemas.
 */
import { z } from 'zod';
import { commonRequestJsonSchema } from '../../core/request/commonRequest.ts';
import { recordResponseSchema, taskRowSchema } from '../responses/fooocusRecord.ts';
import { streamEventSchema } from '../responses/streamEvent.ts';
import { describeImageRequestSchema, generateMaskRequestSchema } from '../routes/tools.ts';
import { legacyOpenApiPaths, legacyOpenApiSchemas } from '../legacy/legacyOpenApi.ts';
import { PROBLEM_TYPES, problemTypeUri } from './problem.ts';

function schemaOf(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const forbidden = json(ref('Forbidden'), 'Missing or wrong X-API-KEY (FooocusAPI: 403, never 401).');
const invalid = json(ref('HTTPValidationError'), 'Validation error (FastAPI/pydantic shape).');

export function buildOpenApiDocument(options: { version: string; serverUrl?: string }): Record<string, unknown> {
  const commonRequest = commonRequestJsonSchema();
  delete commonRequest.$schema;
  const secured = [{ APIKeyHeader: [] }];

  return {
    openapi: '3.1.0',
    info: {
      title: 'fooocus-cloud',
      version: options.version,
      description:
        'FooocusAPI-compatible image generation. Existing FooocusAPI clients work unchanged; additions are listed in docs/compat.md. ' +
        'Errors on FooocusAPI routes keep FastAPI shapes; new routes answer RFC 9457 problem+json.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: options.serverUrl ? [{ url: options.serverUrl }] : undefined,
    security: [],
    paths: {
      '/v1/engine/generate/': {
        post: {
          summary: 'Generate images (sync, async, SSE stream or binary by Accept)',
          description:
            'Mode priority: an exact `Accept: image/<png|jpeg|jpg|webp>` returns the first image bytes (image_number forced to 1; 204 when no image); ' +
            '`stream_output` streams server-sent events; `async_process` returns the pending record at once; otherwise the finished record. ' +
            'POST /v1/engine/generate (no slash) is redirected with 307. Optional `Idempotency-Key` header.',
          security: secured,
          parameters: [
            { name: 'Accept', in: 'header', schema: { type: 'string' }, description: 'image/png, image/jpeg, image/jpg or image/webp for binary mode.' },
            { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 }, description: 'Repeat-safe submission, scoped to the API key.' },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('CommonRequest') } } },
          responses: {
            '200': {
              description: 'Sync: the finished row. Async: the pending RecordResponse. Stream: text/event-stream. Binary: image bytes.',
              content: {
                'application/json': { schema: { oneOf: [ref('TaskRow'), ref('RecordResponse')] } },
                'text/event-stream': { schema: { type: 'string', description: 'data: <StreamEvent JSON> lines; see the StreamEvent schema.' } },
                'image/png': { schema: { type: 'string', contentEncoding: 'binary' } },
                'image/jpeg': { schema: { type: 'string', contentEncoding: 'binary' } },
                'image/webp': { schema: { type: 'string', contentEncoding: 'binary' } },
              },
              headers: { 'X-Task-Id': { schema: { type: 'string' }, description: 'The task id (also for streams and binary answers).' } },
            },
            '204': { description: 'Binary mode: the task produced no image (failed or stopped before the first).' },
            '400': problemResponse('Malformed Idempotency-Key.'),
            '403': forbidden,
            '409': problemResponse('Idempotency-Key repeat while the first task is still running.'),
            '413': problemResponse('Body over the size limit.'),
            '422': invalid,
          },
        },
      },
      '/v1/engine/control': {
        post: {
          summary: 'Stop or skip the running task',
          security: secured,
          parameters: [
            { name: 'action', in: 'query', required: true, schema: { type: 'string', enum: ['stop', 'skip'] } },
            { name: 'task_id', in: 'query', required: false, schema: { type: 'string' }, description: 'Addition: target one task; stop also cancels a queued task.' },
          ],
          responses: {
            '200': json(ref('ControlMessage'), '"task stoped", "task skiped", "No task running" or "Invalid control action".'),
            '403': forbidden,
            '404': problemResponse('Unknown task_id.'),
            '422': invalid,
          },
        },
      },
      '/v1/tools/generate_mask': {
        post: {
          summary: 'Generate a mask (not available: needs segmentation models)',
          security: secured,
          requestBody: { required: true, content: { 'application/json': { schema: ref('GenerateMaskRequest') } } },
          responses: { '403': forbidden, '422': invalid, '501': problemResponse('Segmentation models are not available on this server.') },
        },
      },
      '/v1/tools/describe-image': {
        post: {
          summary: 'Describe an image (not available: needs captioning models)',
          security: secured,
          requestBody: { required: true, content: { 'application/json': { schema: ref('DescribeImageRequest') } } },
          responses: { '403': forbidden, '422': invalid, '501': problemResponse('Captioning models are not available on this server.') },
        },
      },
      '/tasks': {
        get: {
          summary: 'List tasks (history, current, pending) or delete a time range',
          security: secured,
          parameters: [
            { name: 'query', in: 'query', schema: { type: 'string', default: 'all', enum: ['all', 'history', 'current', 'pending'] } },
            { name: 'page', in: 'query', schema: { type: 'integer', default: 0 } },
            { name: 'page_size', in: 'query', schema: { type: 'integer', default: 10 } },
            { name: 'start_at', in: 'query', schema: { type: 'string' }, description: 'YYYY-MM-DDTHH:MM:SS, server local time.' },
            { name: 'end_at', in: 'query', schema: { type: 'string' }, description: 'YYYY-MM-DDTHH:MM:SS; default now.' },
            { name: 'action', in: 'query', schema: { type: 'string', enum: ['delete'] }, description: 'delete: remove the tasks of the time range and their output files; answers null.' },
          ],
          responses: { '200': json({ anyOf: [ref('TaskLists'), { type: 'null' }] }, 'The three lists, or null after a delete.'), '403': forbidden, '422': invalid },
        },
      },
      '/tasks/{task_id}': {
        get: {
          summary: 'One task record ([] when unknown)',
          security: secured,
          parameters: [{ name: 'task_id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': json({ anyOf: [ref('TaskRow'), ref('RecordResponse'), { type: 'array', maxItems: 0 }] }, 'Running view, stored row, or [] for an unknown id.'),
            '403': forbidden,
          },
        },
      },
      '/tasks/{task_id}/events': {
        get: {
          summary: 'Resumable event stream of one task (addition)',
          security: secured,
          parameters: [
            { name: 'task_id', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
            { name: 'last_event_id', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'text/event-stream of StreamEvent objects with id: lines.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            '204': { description: 'Nothing after Last-Event-ID and the task is over: stop reconnecting.' },
            '403': forbidden,
            '404': problemResponse('Unknown task.'),
          },
        },
      },
      '/outputs/{path}': {
        get: {
          summary: 'An output image (no auth); exact Accept: image/<ext> converts',
          parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: '<date>/<file>' }],
          responses: { '200': { description: 'Image bytes.' }, '404': { description: 'No such image.' } },
        },
      },
      '/inputs/{file_name}': {
        get: {
          summary: 'A stored input image (no auth)',
          parameters: [{ name: 'file_name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'Image bytes.' }, '404': { description: 'No such image.' } },
        },
      },
      '/v1/engines/all-models': {
        get: { summary: 'Checkpoint and LoRA file names', security: secured, responses: { '200': json(ref('AllModels'), 'Model file names.'), '403': forbidden } },
      },
      '/v1/engines/styles': {
        get: { summary: 'The 279 style names', security: secured, responses: { '200': json({ type: 'array', items: { type: 'string' } }, 'Style names.'), '403': forbidden } },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': json({ type: 'object' }, 'Alive.') } } },
      '/readyz': { get: { summary: 'Readiness', responses: { '200': json({ type: 'object' }, 'Ready or degraded.'), '503': json({ type: 'object' }, 'Not ready.') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain exposition format.' } } } },
      ...legacyOpenApiPaths(),
    },
    webhooks: {
      'task.completed': {
        post: {
          summary: 'Sent to webhook_url (or WEBHOOK_URL) when a task ends',
          description:
            'As FooocusAPI: a POST whose JSON body is a string containing the task record (TaskRow). Signed with Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature) when WEBHOOK_SECRET is set.',
          requestBody: { content: { 'application/json': { schema: { type: 'string', description: 'JSON text of a TaskRow.' } } } },
          responses: { '200': { description: 'Any 2xx acknowledges.' } },
        },
      },
    },
    components: {
      securitySchemes: { APIKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-KEY' } },
      schemas: {
        CommonRequest: commonRequest,
        GenerateMaskRequest: schemaOf(generateMaskRequestSchema, 'input'),
        DescribeImageRequest: schemaOf(describeImageRequestSchema, 'input'),
        TaskRow: schemaOf(taskRowSchema),
        RecordResponse: schemaOf(recordResponseSchema),
        StreamEvent: schemaOf(streamEventSchema),
        ...legacyOpenApiSchemas(),
        TaskLists: {
          type: 'object',
          required: ['history', 'current', 'pending'],
          properties: {
            history: { type: 'array', items: ref('TaskRow') },
            current: { type: 'array', items: ref('RecordResponse') },
            pending: { type: 'array', items: ref('TaskRow') },
          },
        },
        ControlMessage: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
        AllModels: {
          type: 'object',
          required: ['model_filenames', 'lora_filenames'],
          properties: { model_filenames: { type: 'array', items: { type: 'string' } }, lora_filenames: { type: 'array', items: { type: 'string' } } },
        },
        Forbidden: { type: 'object', required: ['detail'], properties: { detail: { const: 'Forbidden' } } },
        ValidationIssue: {
          type: 'object',
          required: ['type', 'loc', 'msg'],
          properties: {
            type: { type: 'string' },
            loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
            msg: { type: 'string' },
            input: {},
            ctx: { type: 'object' },
          },
        },
        HTTPValidationError: { type: 'object', required: ['detail'], properties: { detail: { type: 'array', items: ref('ValidationIssue') } } },
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: { type: 'string', enum: Object.keys(PROBLEM_TYPES).map((k) => problemTypeUri(k as keyof typeof PROBLEM_TYPES)) },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            instance: { type: 'string' },
            invalid_params: { type: 'array', items: { type: 'object' } },
          },
        },
      },
    },
  };
}
