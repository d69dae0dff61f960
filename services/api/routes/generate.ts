/**
 * POST /v1/engine/generate/ — FooocusAPI's all-in-one route (api-contract §1.1).
 *
 * Order: body parsed (422 json_invalid before auth) → X-API-KEY (403) → CommonRequest
 * validation and normalisation with presets (422) → input images fetched/decoded and stored
 * (edge) → ONE transaction inserts the task and its outbox row (store.create) → answer by
 * mode, in FooocusAPI's priority:
 *
 *   1. `Accept: image/<x>` exactly (one `/`)   binary: first image's bytes, 204 when none
 *   2. `stream_output`                        SSE: progress events with previews, then "Finished"
 *   3. `async_process`                        the pending RecordResponse at once
 *   4. otherwise                              sync: the finished row
 *
 * Dispatch: the outbox relay (services/api/background) is the durable path; right after the
 * commit we also publish once ourselves, best effort and not awaited, so a task starts
 * without waiting for the relay's next tick. Both use the dedup id `<task>:0`, so the second
 * publish is a no-op (reliability.md I3).
 *
 * Waiting (sync, binary, SSE) follows the bus, not the database (http/watchTask.ts). A client
 * that disconnects only stops its own watch: the task runs on, its record and webhook are
 * produced as usual.
 *
 * Idempotency-Key (ecosystem.md A10): the key is scoped to the caller's API key; a repeat
 * with the same request answers for the first task (async: its ack; sync/binary/SSE: its
 * result once terminal, 409 while it is still running); the same key with a different
 * request is 422; a malformed key is 400. All three errors are problem+json.
 */
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../core/errors.ts';
import { parseCommonRequest, type CommonRequest, type ParseCommonRequestOptions } from '../../core/request/commonRequest.ts';
import { jobImageSlots, type GenerationJob } from '../../core/request/generationJob.ts';
import { normaliseRequest } from '../../core/request/normaliseRequest.ts';
import type { JsonObject, Task } from '../../core/task/taskRecord.ts';
import { isTerminal } from '../../core/task/taskStatus.ts';
import { UrlFetchError } from '../edge/urlFetch/index.ts';
import type { ApiContext } from '../http/apiContext.ts';
import { HttpError } from '../http/httpError.ts';
import { getOrCreateCounter } from '../http/httpMetrics.ts';
import { jsonBody, missingBody } from '../http/jsonBody.ts';
import type { RouteGroup } from '../http/routeTable.ts';
import { watchTask } from '../http/watchTask.ts';
import { asyncAck, recordJson, taskRow } from '../responses/fooocusRecord.ts';
import { contentTypeOf, convertImage, parseImageAccept, type ImageExt } from '../responses/imageConversion.ts';
import { requestFingerprint, storedJobOf, toStoredReqParams } from '../responses/storedJob.ts';
import { streamTaskEvents } from '../responses/streamTaskEvents.ts';

export type ResponseMode = 'binary' | 'stream' | 'async' | 'sync';

export const GENERATE_PATH = '/v1/engine/generate/';

export function generateRoutes(ctx: ApiContext): RouteGroup {
  const submitted = getOrCreateCounter(
    ctx.registry,
    'fooocus_tasks_submitted_total',
    'Generation tasks accepted (a row was created), by API and response mode; idempotent repeats are not counted.',
    ['api', 'mode'],
  );
  const recordOptions = { publicBaseUrl: ctx.publicBaseUrl, fooocusFailures: ctx.config.FOOOCUS_STATUS_COMPAT };

  async function generate(req: Request, res: Response): Promise<void> {
    if (req.body === undefined) throw missingBody();
    const binaryExt = parseImageAccept(req.get('accept'), { unknownAs: 'png' });
    const modeOf = (r: CommonRequest): ResponseMode => (binaryExt ? 'binary' : r.stream_output ? 'stream' : r.async_process ? 'async' : 'sync');
    const { task, created, request } = await submitGeneration(ctx, {
      body: req.body,
      owner: res.locals.owner ?? null,
      idempotencyKeyHeader: req.get('idempotency-key'),
      binaryResponse: Boolean(binaryExt),
      modeOf,
    });
    const mode = modeOf(request);
    if (created) {
      submitted.inc({ api: 'fooocus', mode });
    } else {
      checkIdempotentRepeat(task, requestFingerprint(req.body, mode), mode);
    }
    res.set('X-Task-Id', task.id);

    switch (mode) {
      case 'async':
        res.json(asyncAck(task.id));
        return;
      case 'sync':
        await answerSync(ctx, req, res, task, recordOptions);
        return;
      case 'binary':
        await answerBinary(ctx, res, task, binaryExt as ImageExt);
        return;
      case 'stream':
        await answerStream(ctx, req, res, task, recordOptions);
        return;
      default:
        assertNever(mode);
    }
  }

  return {
    routes: [
      {
        method: 'post',
        path: GENERATE_PATH,
        style: 'fooocus',
        auth: true,
        beforeAuth: jsonBody({ limit: ctx.config.MAX_BODY_BYTES }),
        handlers: [generate],
      },
    ],
  };
}

export interface SubmitGenerationInput {
  /** The parsed JSON body (FooocusAPI CommonRequest, or a Fooocus-API body already mapped by services/api/legacy). */
  body: unknown;
  /** parseCommonRequest options (legacy input_image target). Default: none. */
  parseOptions?: ParseCommonRequestOptions;
  /** Tenant from requireApiKey (`res.locals.owner`). */
  owner: string | null;
  /** The raw Idempotency-Key header (validated after the body, as before: 422 wins over 400). */
  idempotencyKeyHeader?: string;
  /** The answer will be binary: image_number forced to 1. */
  binaryResponse: boolean;
  /** The response mode, decided from the validated request (part of the idempotency fingerprint). */
  modeOf: (request: CommonRequest) => string;
  /** Extra top-level keys stored next to the job in reqParams (the worker ignores them). */
  extraReqParams?: JsonObject;
}

/**
 * The one submit path shared by /v1/engine/generate/ and the Fooocus-API compat routes:
 * CommonRequest validation + normalisation (422), webhook_url check, input images resolved
 * and stored, then task + outbox in one transaction and a best-effort direct publish.
 */
export async function submitGeneration(ctx: ApiContext, input: SubmitGenerationInput): Promise<{ task: Task; created: boolean; job: GenerationJob; request: CommonRequest }> {
  const request = parseCommonRequest(input.body, input.parseOptions);
  const mode = input.modeOf(request);
  let job = normaliseRequest(request, {
    presets: ctx.presets,
    styles: ctx.styles,
    defaultWebhookUrl: ctx.config.WEBHOOK_URL,
    binaryResponse: input.binaryResponse,
    maxPixels: ctx.config.MAX_IMAGE_PIXELS,
  });
  const idempotencyKey = parseIdempotencyKey(input.idempotencyKeyHeader);
  const fingerprint = requestFingerprint(input.body, mode);
  await checkWebhookUrl(ctx, request.webhook_url);
  job = await resolveImages(ctx, job);

  const created = await ctx.store.create({
    id: ctx.newTaskId(),
    reqParams: { ...toStoredReqParams(job, fingerprint), ...input.extraReqParams },
    webhookUrl: job.webhookUrl === '' ? null : job.webhookUrl,
    owner: input.owner,
    idempotencyKey,
  });
  const task = created.task;
  if (created.created) {
    ctx.dispatcher.publish(task.id, task.attempt).catch((err) => ctx.logger.warn({ err, taskId: task.id }, 'direct publish failed; the outbox relay will retry'));
  }
  return { task, created: created.created, job, request };
}

async function resolveImages(ctx: ApiContext, job: GenerationJob): Promise<GenerationJob> {
  const needsWork = jobImageSlots(job).some((slot) => {
    const source = slot.get();
    return source !== null && source.kind !== 'stored';
  });
  if (!needsWork) return job;
  if (!ctx.resolveJobImages) {
    throw new HttpError('not-implemented', 501, 'Input images are not supported by this server build (no image input resolver is configured).');
  }
  return await ctx.resolveJobImages(job);
}

/**
 * A client-supplied webhook_url must pass the SSRF policy now (scheme and resolved address;
 * nothing is sent), so a refused URL is a 422 at submission rather than a silent delivery
 * failure later. The server's own WEBHOOK_URL is trusted configuration and not checked.
 */
async function checkWebhookUrl(ctx: ApiContext, url: string | null): Promise<void> {
  if (!url || !ctx.urlFetcher) return;
  try {
    await ctx.urlFetcher.check(url);
  } catch (err) {
    if (!(err instanceof UrlFetchError)) throw err;
    throw ValidationError.forField(['webhook_url'], `webhook_url is not allowed: ${err.message}`, {
      type: 'webhook_url_blocked',
      input: url,
      ctx: { reason: err.code },
      cause: err,
    });
  }
}

/** RFC 8941 sf-string (`"…"`) or a bare token; 1–255 visible ASCII characters. */
export function parseIdempotencyKey(header: string | undefined): string | null {
  if (header === undefined) return null;
  let key = header.trim();
  if (key.startsWith('"') && key.endsWith('"') && key.length >= 2) key = key.slice(1, -1);
  if (!/^[\x21-\x7e]{1,255}$/.test(key) || key.includes('"')) {
    throw new HttpError('invalid-idempotency-key', 400, 'Idempotency-Key must be 1–255 visible ASCII characters, optionally in double quotes.');
  }
  return key;
}

function checkIdempotentRepeat(task: Task, fingerprint: string, mode: ResponseMode): void {
  const stored = storedJobOf(task)?.requestFingerprint;
  if (stored !== undefined && stored !== fingerprint) {
    throw new HttpError('idempotency-key-reused', 422, `Idempotency-Key was first used for task ${task.id} with a different request.`, {
      extensions: { task_id: task.id },
    });
  }
  if (mode !== 'async' && !isTerminal(task.status)) {
    throw new HttpError('idempotency-key-in-flight', 409, `Task ${task.id} for this Idempotency-Key is still ${task.status}; retry later.`, {
      extensions: { task_id: task.id },
      headers: { 'Retry-After': '1' },
    });
  }
}

/** Waits for the task's end unless the client leaves first (then resolves null). */
export async function untilTerminal(ctx: ApiContext, res: Response, task: Task): Promise<Task | null> {
  if (isTerminal(task.status)) return task;
  const watch = watchTask(ctx, task.id, { recheckMs: ctx.config.SYNC_RECHECK_MS });
  const gone = new Promise<null>((resolve) => res.once('close', () => resolve(null)));
  try {
    const outcome = await Promise.race([watch.done, gone]);
    return outcome ? outcome.task : null;
  } finally {
    await watch.stop();
  }
}

async function answerSync(ctx: ApiContext, _req: Request, res: Response, task: Task, options: { publicBaseUrl: string; fooocusFailures: boolean }) {
  const done = await untilTerminal(ctx, res, task);
  if (!done || res.destroyed) return;
  res.type('application/json').send(recordJson(taskRow(done, options)));
}

async function answerBinary(ctx: ApiContext, res: Response, task: Task, ext: ImageExt) {
  const done = await untilTerminal(ctx, res, task);
  if (!done || res.destroyed) return;
  const first = done.results[0];
  const blob = first ? await ctx.blobs.get(first.key) : null;
  if (!blob) {
    res.status(204).end();
    return;
  }
  const bytes = await convertImage(blob.bytes, ext);
  res.status(200).type(contentTypeOf(ext)).send(bytes);
}

async function answerStream(
  ctx: ApiContext,
  req: Request,
  res: Response,
  task: Task,
  options: { publicBaseUrl: string; fooocusFailures: boolean },
) {
  const stream = ctx.sse.open(req, res, { 'X-Task-Id': task.id });
  await streamTaskEvents(ctx, stream, task.id, {
    afterSeq: 0,
    format: options,
    onWatchError: (err) => {
      if (!stream.closed) ctx.logger.warn({ err, taskId: task.id }, 'task stream ended without a terminal event');
    },
  });
}

export function newTaskId(): string {
  return randomUUID().replaceAll('-', '');
}

function assertNever(value: never): never {
  throw new Error(`unexpected mode ${String(value)}`);
}
